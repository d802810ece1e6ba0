"""Container commands: create, run, start, stop, restart, kill, pause, rm, rename, exec,
ps, logs, diff, commit, export (S2–S8, S10–S13, S15, S17, S20)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from ...errors import EngineError, NotFound, RuntimeFailure
from .. import IO, error_message, human
from ..grammar import UsageError
from ..results import Changes, Committed, Lines, Result, Streamed, Table
from .common import ClientError, each, ellipsis, env_values, go_time, open_output, read_kv_files

# The services, runtime and network modules each command needs are imported in its
# handler: ``ps`` or ``stop`` does not pay for what ``run`` loads, nor ``run`` for ``ps``.
if TYPE_CHECKING:
    from ...services.engine import Engine
    from ...store.containers import Container

PS_COLUMNS = [("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"),
              ("RunningFor", "CREATED"), ("Status", "STATUS"), ("Ports", "PORTS"),
              ("Names", "NAMES")]


# -- create and start --------------------------------------------------------------------
def _ensure_image(engine: Engine, ref: str, io: IO) -> None:
    """``run``/``create`` pull a missing image first, as Docker does."""
    try:
        engine.images.resolve(ref)
    except NotFound:
        from ...oci import reference as refs
        from .transfer import pull

        refs.parse(ref)  # a malformed reference is a usage error, not a missing image
        io.say(f"Unable to find image '{refs.parse(ref)}' locally")
        pull(engine, ref, io)


def _create(engine: Engine, args: argparse.Namespace, io: IO) -> Container:
    """``create``/``run`` fail with Docker's exit code 125 whatever went wrong."""
    from ...services import mounts
    from ...services.containers import CreateOptions
    from ...services.network_request import NetworkRequest
    from .limits import checked

    try:
        _ensure_image(engine, args.image, io)
        command = "run" if hasattr(args, "detach") else "create"
        label_items = read_kv_files(args.label_file, command, from_env=False) + args.label
        labels = dict(item.partition("=")[::2] for item in label_items)
        env = read_kv_files(args.env_file, command, from_env=True) + env_values(args.env)
        network = NetworkRequest(
            networks=args.network, ip=args.ip, aliases=args.network_alias,
            publish=args.publish, publish_all=args.publish_all, expose=args.expose,
            dns=args.dns, dns_search=args.dns_search, dns_option=args.dns_option,
            add_host=args.add_host)
        binds = [_absolute_bind(v) for v in args.volume]
        points = [*map(mounts.parse_volume, binds), *map(mounts.parse_mount, args.mount)]
        tmpfs = dict(t.partition(":")[::2] for t in args.tmpfs)
        for t in args.tmpfs:
            mounts.parse_tmpfs(t)  # a bad path fails create, not start
        resources, ulimits = checked(engine, args, io)
        opts = CreateOptions(cmd=args.command, name=args.name, env=env,
                             workdir=args.workdir, user=args.user, hostname=args.hostname,
                             entrypoint=args.entrypoint, interactive=args.interactive,
                             tty=args.tty, auto_remove=args.rm, labels=labels,
                             cap_add=args.cap_add,
                             cap_drop=args.cap_drop, privileged=args.privileged,
                             security_opt=args.security_opt, network=network,
                             mounts=points, binds=binds, mount_flags=args.mount,
                             tmpfs=tmpfs, read_only=args.read_only,
                             volumes_from=args.volumes_from,
                             resources=resources, ulimits=ulimits,
                             restart=args.restart, init=args.init)
        return engine.containers.create(args.image, opts)
    except EngineError as e:
        e.exit_code = 125
        raise


def _absolute_bind(spec: str) -> str:
    """``-v ./dir:/x``: the docker CLI (23+) makes a source starting with "." absolute,
    relative to where the command runs (a notebook's folder, in the kernel)."""
    if not spec.startswith("."):
        return spec
    source, sep, rest = spec.partition(":")
    return os.path.abspath(source) + sep + rest


def cmd_create(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return Lines([_create(engine, args, io).ID], kind="id")


def _start_attached(engine: Engine, c: Container, io: IO, stdin: bool,
                    detach_keys: str = "") -> int:
    """Start in the foreground; signals to us are forwarded, as Docker's sig-proxy does
    (with a terminal, keys such as ctrl-c reach the container's pty instead)."""
    if c.Config.get("Tty"):
        from .attach import start_with_terminal

        return start_with_terminal(engine, c, io, stdin, detach_keys)
    from ...runtime.spec import Attach

    io.flush()
    attach = Attach(io.stdout.fileno(), io.stderr.fileno(), io.stdin.fileno() if stdin else None)
    started = engine.tasks.start(c.ID, attach)
    if started is None:
        return 0
    if io.attached:
        io.attached(c.ID)

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(EngineError, OSError):
            os.kill(started.pid, signum)

    previous = {}
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, forward)
    try:
        return started.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _notice_mode(engine: Engine, io: IO, c: Container | None = None) -> None:
    """One line on stderr where this mode cannot show what the command claims (S3), and
    one more for a network the mode cannot isolate."""
    if engine.isolation().mode == "proot":
        io.say("notice: PRoot mode: the command is not PID 1 and sees the host's PIDs, "
               "hostname and network (see docker info)")
        if c is None:
            return
        user = [n for n in engine.networks.names(c) if n not in ("bridge", "host", "none")]
        if user or c.HostConfig.get("PortBindings"):
            io.say("notice: PRoot mode: containers share the host's network: the names of "
                   "other containers on a network resolve to 127.0.0.1, and -p relays on "
                   "the host's loopback")


def cmd_run(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    args.tty = args.tty and io.terminal
    if not args.detach:
        from ..terminal import check_tty

        check_tty(io, args.interactive, args.tty)
    try:
        engine.tasks.check_can_run()  # refuse before creating anything
    except EngineError as e:
        e.exit_code = 125
        raise
    c = _create(engine, args, io)
    _notice_mode(engine, io, c)
    try:
        if args.detach:
            engine.tasks.start(c.ID)
            return Lines([c.ID], kind="id")
        return Streamed(exit_code=_start_attached(engine, c, io, args.interactive,
                                                  args.detach_keys))
    except RuntimeFailure as e:
        from ...services.tasks import start_failure

        raise start_failure(c.ID, e) from None
    except EngineError as e:
        e.exit_code = 125  # docker run: the engine, not the command, failed
        raise


def cmd_start(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    engine.tasks.check_can_run()
    _notice_mode(engine, io)
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise UsageError("docker start: you cannot start and attach multiple containers "
                             "at once")
        c = engine.containers.get(args.containers[0])
        if args.interactive:
            from ..terminal import check_tty

            check_tty(io, True, bool(c.Config.get("Tty")))
        return Streamed(exit_code=_start_attached(engine, c, io, args.interactive))
    return each(args.containers, engine.tasks.start, io)


# -- signals, freezing, removal ----------------------------------------------------------
def cmd_stop(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.containers, lambda n: engine.tasks.stop(n, args.time, args.signal), io)


def cmd_kill(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.containers, lambda n: engine.tasks.kill(n, args.signal), io)


def cmd_pause(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    result = each(args.containers, engine.tasks.pause, io)
    method = engine.isolation().pause_method
    if method in ("sigstop", "tracer"):  # not the freezer: say how they were held
        note = next(n for n in engine.isolation().limits() if n.startswith("pause:"))
        io.say(f"notice: {note}")
    return result


def cmd_unpause(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.containers, engine.tasks.unpause, io)


def cmd_restart(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.containers, lambda n: engine.tasks.restart(n, args.time, args.signal), io)


def cmd_rm(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.containers,
                lambda n: engine.containers.remove(n, args.force, volumes=args.volumes), io)


def cmd_rename(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Docker prints the daemon's error, then its own line naming the container."""
    try:
        engine.containers.rename(args.container, args.new_name)
    except EngineError as e:
        io.say(error_message(e))
        raise ClientError(f"Error: failed to rename container named {args.container}") from None
    return Lines([])


def cmd_wait(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return Lines([str(engine.tasks.wait(name)) for name in args.containers])


def cmd_container_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from ...services import filters
    from .common import confirm

    if not args.force and not confirm(io, "WARNING! This will remove all stopped containers."):
        return Lines(["Total reclaimed space: 0B"])
    removed, size = engine.containers.prune(filters.prune_filter(args.filter, "container"))
    head = ["Deleted Containers:", *removed, ""] if removed else []
    return Lines([*head, f"Total reclaimed space: {human.size(size)}"])


# -- processes ---------------------------------------------------------------------------
def cmd_exec(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if not args.command:
        raise UsageError('docker exec: requires at least 2 arguments\nSee \'docker exec --help\'.')
    _notice_mode(engine, io)
    if args.tty and not args.detach and io.terminal:
        from ..terminal import check_tty
        from .attach import exec_with_terminal

        check_tty(io, args.interactive, True)
        return Streamed(exit_code=exec_with_terminal(engine, args, io, env_values(args.env)))
    io.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        stdin = io.stdin.fileno() if args.interactive else devnull
        out, err = (devnull, devnull) if args.detach else (io.stdout.fileno(), io.stderr.fileno())
        code = engine.tasks.exec(args.container, args.command, env_values(args.env),
                                 args.workdir, args.user, stdin, out, err, detach=args.detach)
    finally:
        os.close(devnull)
    return Streamed(exit_code=code)


def cmd_top(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    rows = [{"UID": p.uid, "PID": str(p.pid), "PPID": str(p.ppid), "CMD": p.cmd}
            for p in engine.tasks.top(args.container)]
    return Table("top", rows, [("UID", "UID"), ("PID", "PID"), ("PPID", "PPID"),
                               ("CMD", "CMD")])


# -- listing -----------------------------------------------------------------------------
def _ps_row(engine: Engine, c: Container, trunc: bool, size: bool,
            images: dict[str, bool] | None = None) -> dict[str, Any]:
    """The fields of Docker's ContainerContext for one container; ``images`` memoizes
    which images exist across the rows of one listing."""
    from ...network.ports import displayable_ports, summary_ports
    from ...oci.digest import short

    command = " ".join(c.command)
    known = {} if images is None else images
    if c.Image not in known:
        known[c.Image] = engine.images.exists(c.Image)
    image = c.ImageRef if known[c.Image] else short(c.Image)
    shown_size = "0B"  # what Docker's Size() shows when sizes were not asked for
    if size:
        rw = engine.containers.rw_size(c)
        rootfs = rw + sum(layer.size for layer in engine.containers.chain(c))
        shown_size = human.size(rw) + (f" (virtual {human.size(rootfs)})" if rootfs else "")
    return {
        "ID": c.ID[:12] if trunc else c.ID,
        "Image": image,
        "Command": f'"{ellipsis(command, 20) if trunc else command}"',
        "CreatedAt": go_time(c.Created),
        "RunningFor": human.ago(c.Created),
        "Ports": displayable_ports(summary_ports(engine.networks.port_settings(c))),
        "State": c.State.Status,
        "Status": human.status(c.State),
        "Size": shown_size,
        "Names": c.Name,
        "Labels": ",".join(f"{k}={v}" for k, v in (c.Config.get("Labels") or {}).items()),
        "LocalVolumes": str(sum(m.get("Type") == "volume" for m in c.Mounts)),
        "Mounts": ",".join(_mount_names(c)),
        "Networks": ",".join(engine.networks.names(c)),
    }


def _mount_names(c: Container) -> list[str]:
    """``ps --format {{.Mounts}}``: volume names (12 characters, as the CLI truncates
    them) and bind sources."""
    return [(m.get("Name") or "")[:12] if m.get("Type") == "volume" else m.get("Source", "")
            for m in c.Mounts if m.get("Type") in ("volume", "bind")]


def cmd_ps(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S8: running and paused containers; ``-a`` adds created and exited ones; ``-n``/``-l``
    the last created (in any state); ``--filter`` as Docker's daemon applies it."""
    from ...services import filters

    if args.format and args.quiet:
        io.say("WARNING: Ignoring custom format, because both --format and --quiet are set.")
    elif args.format:
        _check_ps_format(args.format)
    limit = 1 if args.latest else args.last
    cs = filters.containers(engine, filters.Filters(args.filter), all=args.all, limit=limit)
    size = args.size or (not args.quiet and "{{.Size}}" in args.format.replace(" ", ""))
    images: dict[str, bool] = {}
    rows = [_ps_row(engine, c, not args.no_trunc, size, images) for c in cs]
    columns = PS_COLUMNS + ([("Size", "SIZE")] if args.size else [])
    template = "{{.ID}}" if args.quiet else args.format
    return Table("ps", rows, columns, template)


def _check_ps_format(text: str) -> None:
    """The docker CLI runs a ``ps`` format once on an empty container before listing, so a
    bad one fails even when no container would be shown."""
    from ... import gotemplate
    from ..results import FormatError

    try:
        tmpl = gotemplate.parse(text)
    except gotemplate.TemplateError as e:
        raise FormatError(f"failed to parse template: {e}") from None
    empty = {name: "" for name in ("Command", "CreatedAt", "ID", "Image", "Labels",
                                   "LocalVolumes", "Mounts", "Names", "Networks", "Ports",
                                   "RunningFor", "Size", "State", "Status")}
    try:
        tmpl.render(gotemplate.GoStruct("*formatter.ContainerContext", empty))
    except gotemplate.TemplateError as e:
        raise FormatError(f"failed to execute template: {e}") from None


# -- the read-write layer ----------------------------------------------------------------
def cmd_diff(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    c = engine.containers.get(args.container)
    return Changes(c.Name, engine.containers.diff(c.ID))


def cmd_logs(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Entries in order (``--tail``: the last N, read from the end); ``--since``/``--until``
    bound them by time, ``-t`` prefixes each with its time (Go's RFC3339NanoFixed),
    ``--details`` with its extra attributes (none here: LayerLab's log has no ``--log-opt``
    labels, so Docker's lone space remains)."""
    from ...timestamps import format_nanos, rfc3339_nanos

    since = _log_time(args.since)
    until = _log_time(args.until)
    tail = None
    if args.tail != "all":
        if not args.tail.isdigit():
            raise UsageError(f"invalid value for --tail: {args.tail!r} (a number or all)")
        tail = int(args.tail)
    for entry in engine.containers.logs(args.container, follow=args.follow, tail=tail,
                                        since_ns=since, until_ns=until):
        stream = io.stdout if entry.stream == "stdout" else io.stderr
        stamp = rfc3339_nanos(entry.time)
        prefix = (format_nanos(stamp, local=False) + " ").encode() if args.timestamps else b""
        stream.write(prefix + (b" " if args.details else b"") + entry.text)
        stream.flush()
    return Streamed()


def _log_time(value: str) -> int:
    if not value:
        return 0
    from ...timestamps import to_nanos

    try:
        return to_nanos(value)
    except ValueError as e:
        raise ClientError(str(e)) from None


def cmd_commit(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S15: the RW layer becomes a new read-only layer of a new image."""
    c = engine.containers.get(args.container)
    if engine.containers.never_ran(c) and not engine.containers.diff(c.ID):
        io.say(f"WARNING: container {c.Name} never ran: its layer is empty (start it first "
               "to commit what its command does)")
    image_id = engine.containers.commit(args.container, args.reference, args.message,
                                        args.author, args.change, pause=args.pause == "true")
    return Committed([image_id], kind="id", image_id=image_id, ref=args.reference)


def cmd_export(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S20: the container's unified view as one flat tar."""
    engine.containers.get(args.container)
    with open_output(args.output, io, "export") as out:
        engine.containers.export(args.container, out)
    return Streamed()
