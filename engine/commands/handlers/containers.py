"""Container commands: create, run, start, stop, kill, pause, rm, exec, ps, logs, diff,
commit, export (S2–S8, S10–S13, S15, S17, S20)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from typing import Any

from ...errors import EngineError, NotFound, RuntimeFailure
from ...network.ports import displayable_ports, summary_ports
from ...oci import reference as refs
from ...oci.digest import short
from ...runtime.spec import Attach
from ...services.containers import CreateOptions
from ...services.engine import Engine
from ...services.networks import NetworkRequest
from ...services.tasks import start_failure
from ...store.containers import Container
from .. import IO, human
from ..grammar import UsageError
from ..results import Changes, Committed, Lines, Result, Streamed, Table
from .common import each, ellipsis, env_values, filter_values, go_time, open_output
from .transfer import pull

PS_COLUMNS = [("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"),
              ("RunningFor", "CREATED"), ("Status", "STATUS"), ("Ports", "PORTS"),
              ("Names", "NAMES")]


# -- create and start --------------------------------------------------------------------
def _ensure_image(engine: Engine, ref: str, io: IO) -> None:
    """``run``/``create`` pull a missing image first, as Docker does."""
    try:
        engine.images.resolve(ref)
    except NotFound:
        refs.parse(ref)  # a malformed reference is a usage error, not a missing image
        io.say(f"Unable to find image '{refs.parse(ref)}' locally")
        pull(engine, ref, io)


def _create(engine: Engine, args: argparse.Namespace, io: IO) -> Container:
    """``create``/``run`` fail with Docker's exit code 125 whatever went wrong."""
    try:
        _ensure_image(engine, args.image, io)
        labels = dict(item.partition("=")[::2] for item in args.label)
        network = NetworkRequest(
            networks=args.network, ip=args.ip, aliases=args.network_alias,
            publish=args.publish, publish_all=args.publish_all, expose=args.expose,
            dns=args.dns, dns_search=args.dns_search, dns_option=args.dns_option,
            add_host=args.add_host)
        opts = CreateOptions(cmd=args.command, name=args.name, env=env_values(args.env),
                             workdir=args.workdir, user=args.user, hostname=args.hostname,
                             entrypoint=args.entrypoint, interactive=args.interactive,
                             tty=args.tty, auto_remove=args.rm, labels=labels,
                             cap_add=args.cap_add,
                             cap_drop=args.cap_drop, privileged=args.privileged,
                             security_opt=args.security_opt, network=network)
        return engine.containers.create(args.image, opts)
    except EngineError as e:
        e.exit_code = 125
        raise


def cmd_create(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return Lines([_create(engine, args, io).ID], kind="id")


def _start_attached(engine: Engine, c: Container, io: IO, stdin: bool) -> int:
    """Start in the foreground; signals to us are forwarded, as Docker's sig-proxy does."""
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


def _notice_mode(engine: Engine, io: IO) -> None:
    """One line on stderr where this mode cannot show what the command claims (S3)."""
    if engine.isolation().mode == "proot":
        io.say("notice: PRoot mode: the command is not PID 1 and sees the host's PIDs, "
               "hostname and network (see docker info)")


def cmd_run(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    try:
        engine.tasks.check_can_run()  # refuse before creating anything
    except EngineError as e:
        e.exit_code = 125
        raise
    c = _create(engine, args, io)
    _notice_mode(engine, io)
    try:
        if args.detach:
            engine.tasks.start(c.ID)
            return Lines([c.ID], kind="id")
        return Streamed(exit_code=_start_attached(engine, c, io, args.interactive))
    except RuntimeFailure as e:
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


def cmd_rm(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.containers, lambda n: engine.containers.remove(n, args.force), io)


def cmd_wait(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return Lines([str(engine.tasks.wait(name)) for name in args.containers])


def cmd_container_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from .common import confirm

    if not args.force and not confirm(io, "WARNING! This will remove all stopped containers."):
        return Lines(["Total reclaimed space: 0B"])
    removed, size = engine.containers.prune()
    head = ["Deleted Containers:", *removed, ""] if removed else []
    return Lines([*head, f"Total reclaimed space: {human.size(size)}"])


# -- processes ---------------------------------------------------------------------------
def cmd_exec(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if not args.command:
        raise UsageError('docker exec: requires at least 2 arguments\nSee \'docker exec --help\'.')
    _notice_mode(engine, io)
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
def _ps_row(engine: Engine, c: Container, trunc: bool, size: bool) -> dict[str, Any]:
    command = " ".join(c.command)
    image = c.ImageRef if engine.images.exists(c.Image) else short(c.Image)
    return {
        "ID": c.ID[:12] if trunc else c.ID,
        "Image": image,
        "Command": f'"{ellipsis(command, 20) if trunc else command}"',
        "CreatedAt": go_time(c.Created),
        "RunningFor": human.ago(c.Created),
        "Ports": displayable_ports(summary_ports(engine.networks.port_settings(c))),
        "State": c.State.Status,
        "Status": human.status(c.State),
        "Size": human.size(engine.containers.rw_size(c)) if size else "",
        "Names": c.Name,
        "Labels": ",".join(f"{k}={v}" for k, v in (c.Config.get("Labels") or {}).items()),
        "Mounts": "",
        "Networks": ",".join(engine.networks.names(c)),
    }


def cmd_ps(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S8: running and paused containers; ``-a`` adds created and exited ones."""
    cs = engine.containers.all()
    if args.latest:
        args.last = 1
    if not args.all and args.last < 0:
        cs = [c for c in cs if c.State.Running]
    cs = engine.containers.matching(cs, filter_values(args.filter))
    if args.last >= 0:
        cs = cs[: args.last]
    rows = [_ps_row(engine, c, not args.no_trunc, args.size) for c in cs]
    columns = PS_COLUMNS + ([("Size", "SIZE")] if args.size else [])
    template = "{{.ID}}" if args.quiet else args.format
    return Table("ps", rows, columns, template)


# -- the read-write layer ----------------------------------------------------------------
def cmd_diff(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    c = engine.containers.get(args.container)
    return Changes(c.Name, engine.containers.diff(c.ID))


def cmd_logs(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    tail = None
    if args.tail != "all":
        if not args.tail.isdigit():
            raise UsageError(f"invalid value for --tail: {args.tail!r} (a number or all)")
        tail = int(args.tail)
    for entry in engine.containers.logs(args.container, follow=args.follow, tail=tail):
        stream = io.stdout if entry.stream == "stdout" else io.stderr
        stamp = (entry.time + " ").encode() if args.timestamps else b""
        stream.write(stamp + entry.text)
        stream.flush()
    return Streamed()


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
