"""One function per docker command: parse results in, Engine API calls, typed results out."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC
from typing import Any, BinaryIO

from ..errors import EngineError, InvalidArgument, NotFound, RuntimeFailure
from ..oci import reference as refs
from ..oci.digest import chain_ids, short, strip_algo
from ..runtime.spec import Attach
from ..services.engine import CreateOptions, Engine, Removed
from ..store.containers import Container
from ..store.images import Image
from . import IO, human
from .grammar import UsageError
from .results import Build, Changes, Document, Graph, Lines, Result, Streamed, Table

PS_COLUMNS = [("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"),
              ("RunningFor", "CREATED"), ("Status", "STATUS"), ("Ports", "PORTS"),
              ("Names", "NAMES")]
IMAGES_COLUMNS = [("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"),
                  ("CreatedSince", "CREATED"), ("Size", "SIZE")]
HISTORY_COLUMNS = [("ID", "IMAGE"), ("CreatedSince", "CREATED"), ("CreatedBy", "CREATED BY"),
                   ("Size", "SIZE"), ("Comment", "COMMENT")]
DF_COLUMNS = [("Type", "TYPE"), ("TotalCount", "TOTAL"), ("Active", "ACTIVE"),
              ("Size", "SIZE"), ("Reclaimable", "RECLAIMABLE")]


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _go_time(stamp: str) -> str:
    """Docker's ``CreatedAt``: ``2026-11-28 13:15:44 +0000 UTC``."""
    if not stamp:
        return ""
    return human.parse_time(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


# -- container lifecycle -------------------------------------------------------------
def _ensure_image(engine: Engine, ref: str, io: IO) -> None:
    """``run``/``create`` pull a missing image first, as Docker does."""
    try:
        engine.images.resolve(ref)
    except NotFound:
        refs.parse(ref)  # a malformed reference is a usage error, not a missing image
        io.say(f"Unable to find image '{refs.parse(ref)}' locally")
        _pull(engine, ref, io)


def _pull(engine: Engine, ref: str, io: IO, quiet: bool = False, err: bool = True) -> str:
    """Progress goes to stderr when ``run`` pulls, to stdout for ``pull``, as Docker does."""
    from ..transfer import registry

    return registry.pull(engine, ref, (lambda line: None) if quiet
                         else (lambda line: io.say(line, err=err)))


def _create(engine: Engine, args: argparse.Namespace, io: IO) -> Container:
    """``create``/``run`` fail with Docker's exit code 125 whatever went wrong."""
    try:
        _ensure_image(engine, args.image, io)
        return _create_container(engine, args)
    except EngineError as e:
        e.exit_code = 125
        raise


def _create_container(engine: Engine, args: argparse.Namespace) -> Container:
    if args.network not in ("none", "default", "bridge"):
        raise UsageError(f"docker: network {args.network} not found (only 'none' is available"
                         " until networking lands)")
    labels = dict(item.partition("=")[::2] for item in args.label)
    opts = CreateOptions(cmd=args.command, name=args.name, env=_env(args.env),
                         workdir=args.workdir, user=args.user, hostname=args.hostname,
                         entrypoint=args.entrypoint, interactive=args.interactive,
                         auto_remove=args.rm, labels=labels)
    return engine.create(args.image, opts)


def _env(items: list[str]) -> list[str]:
    """``-e NAME`` takes NAME's value from the caller's environment, as Docker does."""
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def cmd_create(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return Lines([_create(engine, args, io).ID], kind="id")


def _attach(io: IO, stdin: bool) -> Attach:
    io.flush()
    return Attach(io.stdout.fileno(), io.stderr.fileno(), io.stdin.fileno() if stdin else None)


def _start_attached(engine: Engine, c: Container, io: IO, stdin: bool) -> int:
    """Start in the foreground; signals to us are forwarded, as Docker's sig-proxy does."""
    started = engine.start(c.ID, _attach(io, stdin))
    if started is None:
        return 0
    if io.attached:
        io.attached(c.ID)

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(EngineError, OSError):
            os.kill(started.pid, signum)

    previous = {}
    if sys.platform == "linux" and _main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, forward)
    try:
        return started.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def cmd_run(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    c = _create(engine, args, io)
    try:
        if args.detach:
            engine.start(c.ID)
            return Lines([c.ID], kind="id")
        return Streamed(exit_code=_start_attached(engine, c, io, args.interactive))
    except RuntimeFailure as e:
        raise RuntimeFailure(f"failed to create task for container: failed to start "
                             f"container {short(c.ID)}: {e}: unknown", e.exit_code) from None
    except EngineError as e:
        e.exit_code = 125  # docker run: the engine, not the command, failed
        raise


def cmd_start(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise UsageError("docker start: you cannot start and attach multiple containers "
                             "at once")
        c = engine.container(args.containers[0])
        return Streamed(exit_code=_start_attached(engine, c, io, args.interactive))
    return _each(args.containers, lambda n: engine.start(n), io)


def _each(names: list[str], action: Any, io: IO) -> Result:
    """Apply to every name; print those that worked, report the others (exit 1), like Docker."""
    done, failed = [], False
    for name in names:
        try:
            action(name)
            done.append(name)
        except EngineError as e:
            from . import error_message

            io.say(error_message(e))
            failed = True
    return Lines(done, exit_code=1 if failed else 0)


def cmd_stop(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return _each(args.containers, lambda n: engine.stop(n, args.time, args.signal), io)


def cmd_kill(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return _each(args.containers, lambda n: engine.kill(n, args.signal), io)


def cmd_pause(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return _each(args.containers, engine.pause, io)


def cmd_unpause(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return _each(args.containers, engine.unpause, io)


def cmd_rm(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return _each(args.containers, lambda n: engine.remove_container(n, args.force), io)


def cmd_wait(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    codes = []
    for name in args.containers:
        codes.append(str(engine.wait(name)))
    return Lines(codes)


def cmd_exec(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if not args.command:
        raise UsageError('docker exec: requires at least 2 arguments\nSee \'docker exec --help\'.')
    io.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        stdin = io.stdin.fileno() if args.interactive else devnull
        out, err = (devnull, devnull) if args.detach else (io.stdout.fileno(), io.stderr.fileno())
        code = engine.exec(args.container, args.command, _env(args.env), args.workdir,
                           args.user, stdin, out, err, detach=args.detach)
    finally:
        os.close(devnull)
    return Streamed(exit_code=code)


def cmd_top(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    c = engine.running(args.container)
    from ..runtime.cgroups import Cgroup

    cg = Cgroup.open(c.ID)
    pids = sorted(cg.pids()) if cg else [c.State.Pid]
    rows = []
    for pid in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            rows.append({"UID": status["Uid"].split()[0], "PID": str(pid),
                         "PPID": status["PPid"].strip(), "CMD": cmd})
    return Table("top", rows, [("UID", "UID"), ("PID", "PID"), ("PPID", "PPID"),
                               ("CMD", "CMD")])


# -- listings ---------------------------------------------------------------------
def _status(c: Container) -> str:
    s = c.State
    if s.Running:
        up = f"Up {human.duration(human.since(s.StartedAt))}"
        return up + " (Paused)" if s.Paused else up
    if s.Status == "exited" or s.FinishedAt[:4] not in ("", "0001"):
        return f"Exited ({s.ExitCode}) {human.ago(s.FinishedAt)}"
    return "Created"


def _ps_row(engine: Engine, c: Container, trunc: bool, size: bool) -> dict[str, Any]:
    command = " ".join(c.command)
    image = c.ImageRef if engine.images.exists(c.Image) else short(c.Image)
    return {
        "ID": c.ID[:12] if trunc else c.ID,
        "Image": image,
        "Command": f'"{_ellipsis(command, 20) if trunc else command}"',
        "CreatedAt": _go_time(c.Created),
        "RunningFor": human.ago(c.Created),
        "Ports": "",
        "State": c.State.Status,
        "Status": _status(c),
        "Size": human.size(engine.rw_size(c)) if size else "",
        "Names": c.Name,
        "Labels": ",".join(f"{k}={v}" for k, v in (c.Config.get("Labels") or {}).items()),
        "Mounts": "",
        "Networks": "none",
    }


def _ps_filter(c: Container, filters: list[str]) -> bool:
    for f in filters:
        key, _, value = f.partition("=")
        if key == "status" and c.State.Status != value:
            return False
        if key == "name" and value not in c.Name:
            return False
        if key == "id" and not c.ID.startswith(value):
            return False
        if key == "ancestor" and value not in (c.ImageRef, c.Image, short(c.Image)):
            return False
        if key not in ("status", "name", "id", "ancestor"):
            raise InvalidArgument(f"invalid filter '{key}' (supported: status, name, id, "
                                  "ancestor)")
    return True


def cmd_ps(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S8: running and paused containers; ``-a`` adds created and exited ones."""
    cs = engine.containers.all()
    if args.latest:
        args.last = 1
    if not args.all and args.last < 0:
        cs = [c for c in cs if c.State.Running]
    cs = [c for c in cs if _ps_filter(c, args.filter)]
    if args.last >= 0:
        cs = cs[: args.last]
    rows = [_ps_row(engine, c, not args.no_trunc, args.size) for c in cs]
    columns = PS_COLUMNS + ([("Size", "SIZE")] if args.size else [])
    template = "{{.ID}}" if args.quiet else args.format
    return Table("ps", rows, columns, template)


def _image_rows(engine: Engine, img: Image, trunc: bool) -> list[dict[str, Any]]:
    size = human.size(engine.image_size(img))
    created = img.config.get("created", "")
    base = {"ID": strip_algo(img.id)[:12] if trunc else img.id,
            "CreatedSince": human.ago(created), "CreatedAt": _go_time(created), "Size": size,
            "Digest": "<none>", "Containers": "N/A", "SharedSize": "N/A",
            "UniqueSize": "N/A", "VirtualSize": size}
    if not img.tags:
        return [{"Repository": "<none>", "Tag": "<none>", **base}]
    rows = []
    for t in img.tags:
        repo, _, tag = t.rpartition(":")
        rows.append({"Repository": repo, "Tag": tag, **base})
    return rows


def cmd_images(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S9: top-level images; ``-a`` adds intermediates; ``--tree`` shows shared layers."""
    if args.tree:
        return layer_graph(engine)
    images = engine.list_images(all=args.all)
    rows = [r for img in images for r in _image_rows(engine, img, not args.no_trunc)]
    if args.reference:
        want = args.reference
        rows = [r for r in rows if r["Repository"] == want.split(":")[0]
                and (":" not in want or r["Tag"] == want.rpartition(":")[2])]
    for f in args.filter:
        key, _, value = f.partition("=")
        if key == "dangling":
            keep = value.lower() == "true"
            rows = [r for r in rows if (r["Tag"] == "<none>") == keep]
        elif key == "reference":
            rows = [r for r in rows if f"{r['Repository']}:{r['Tag']}".startswith(value)]
        else:
            raise InvalidArgument(f"invalid filter '{key}' (supported: dangling, reference)")
    if args.quiet:
        seen: list[str] = []
        for r in rows:
            if r["ID"] not in seen:
                seen.append(r["ID"])
        return Table("images", [{"ID": i} for i in seen], IMAGES_COLUMNS, "{{.ID}}")
    return Table("images", rows, IMAGES_COLUMNS, args.format)


def layer_graph(engine: Engine) -> Graph:
    """Layers, images and containers with how they share layers (S1, S2, S9)."""
    images = engine.images.all()
    parents = {i.parent for i in images if i.parent}
    layers = [{"id": lay.chain_id, "diff_id": lay.diff_id, "parent": lay.parent,
               "size": lay.size} for lay in engine.layers.all()]
    image_nodes = [{"id": i.id, "tags": i.tags, "top": (chain_ids(i.diff_ids) or [""])[-1],
                    "parent": i.parent, "intermediate": not i.tags and i.id in parents,
                    "created_by": (i.history[-1].get("created_by", "") if i.history else "")}
                   for i in images]
    containers = [{"id": c.ID, "name": c.Name, "top": (c.Layers or [""])[-1],
                   "state": c.State.Status, "image": c.Image,
                   "rw_size": engine.rw_size(c)} for c in engine.containers.all()]
    return Graph(layers, image_nodes, containers)


def cmd_history(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S21: every layer-making step, newest first."""
    humane = args.human == "true"
    rows = []
    for h in engine.history(args.image):
        created_by = h.created_by.replace("\t", " ")
        rows.append({
            "ID": h.id if args.no_trunc or h.id == "<missing>" else strip_algo(h.id)[:12],
            "CreatedSince": human.ago(h.created) if humane else h.created,
            "CreatedAt": h.created,
            "CreatedBy": created_by if args.no_trunc else _ellipsis(created_by, 45),
            "Size": human.size(h.size) if humane else str(h.size),
            "Comment": h.comment,
        })
    template = "{{.ID}}" if args.quiet else args.format
    return Table("history", rows, HISTORY_COLUMNS, template)


def cmd_inspect(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S18: JSON metadata of containers and images (containers first, as Docker looks up)."""
    objects, kinds, missing = [], set(), []
    for name in args.names:
        found = None
        if args.type in ("", "container"):
            with contextlib.suppress(NotFound):
                found, kind = engine.inspect_container(name), "container"
        if found is None and args.type in ("", "image"):
            with contextlib.suppress(NotFound):
                found, kind = engine.inspect_image(name), "image"
        if found is None:
            missing.append(name)
            continue
        objects.append(found)
        kinds.add(kind)
    if missing:
        from . import error_message

        if objects:
            io.stdout.write((Document(objects, template=args.format).text() + "\n").encode())
        for name in missing:
            io.say(error_message(NotFound(f"No such object: {name}")))
        return Lines([], exit_code=1)
    return Document(objects, kinds.pop() if len(kinds) == 1 else "", args.format)


def cmd_diff(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    c = engine.container(args.container)
    return Changes(c.Name, engine.diff(c.ID))


def cmd_logs(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    entries: Iterator[Any] = engine.logs(args.container, follow=args.follow)
    if args.tail != "all":
        if not args.tail.isdigit():
            raise UsageError(f"invalid value for --tail: {args.tail!r} (a number or all)")
        past = list(engine.logs(args.container))
        n = int(args.tail)
        kept = past[len(past) - n:] if n else []
        entries = iter(kept) if not args.follow else _chain_follow(engine, args, kept, len(past))
    for entry in entries:
        stream = io.stdout if entry.stream == "stdout" else io.stderr
        stamp = (entry.time + " ").encode() if args.timestamps else b""
        stream.write(stamp + entry.text)
        stream.flush()
    return Streamed()


def _chain_follow(engine: Engine, args: argparse.Namespace, kept: list[Any],
                  skip: int) -> Iterator[Any]:
    yield from kept
    for i, entry in enumerate(engine.logs(args.container, follow=True)):
        if i >= skip:
            yield entry


# -- images ---------------------------------------------------------------------------
def cmd_commit(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S15: the RW layer becomes a new read-only layer of a new image."""
    image_id = engine.commit(args.container, args.reference, args.message, args.author,
                             args.change, pause=args.pause == "true")
    return Lines([image_id], kind="id")


def _removed_lines(r: Removed) -> list[str]:
    return [f"{what}: {ident}" for what, ident in r.lines]


def cmd_rmi(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    lines: list[str] = []
    failed = False
    for name in args.images:
        try:
            lines += _removed_lines(engine.remove_image(name, args.force))
        except EngineError as e:
            from . import error_message

            io.stdout.write("".join(x + "\n" for x in lines).encode())
            lines = []
            io.say(error_message(e))
            failed = True
    return Lines(lines, exit_code=1 if failed else 0)


def cmd_build(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S16: a Dockerfile, step by step, each step an intermediate image, with the cache;
    the classic output is streamed to stdout (buffered with -q, shown only on failure)."""
    from .. import builder

    for tag in args.tag:
        try:
            refs.parse(tag)
        except InvalidArgument as e:
            raise UsageError(f'invalid argument "{tag}" for "-t, --tag" flag: {e}') from None
    held: list[str] = []

    def progress(event: builder.Progress) -> None:
        if args.quiet:
            held.append(event.text)
        else:
            io.stdout.write(event.text.encode("utf-8", "surrogateescape"))
            io.stdout.flush()

    with builder.open_context(args.context, args.file, io.stdin) as ctx:
        opts = builder.BuildOptions(
            ctx.root, ctx.dockerfile, ctx.name, ctx.ignore, args.tag,
            builder.build_args(args.build_arg), args.target, args.no_cache,
            dict(item.partition("=")[::2] for item in args.label))
        try:
            result = builder.build(engine, opts, progress)
        except builder.BuildError:
            io.stderr.write("".join(held).encode("utf-8", "surrogateescape"))
            raise
    return Build(result.image_id, result.tags, result.steps, quiet=args.quiet)


def cmd_tag(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    refs.parse(args.target)
    engine.tag(args.source, args.target)
    return Lines([])


def _open_output(path: str, io: IO, what: str) -> contextlib.AbstractContextManager[BinaryIO]:
    if path:
        return _atomic_output(path)
    if io.stdout_is_terminal():
        raise UsageError(f"cowardly refusing to {what} to a terminal. Use the -o flag or "
                         "redirect")
    return contextlib.nullcontext(io.stdout)


@contextlib.contextmanager
def _atomic_output(path: str) -> Iterator[BinaryIO]:
    """Write next to ``path`` and rename at the end: a failed save leaves no half file.
    Devices and pipes (``-o /dev/stdout``) are written in place."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as f:
            yield f
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def cmd_save(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S19: every layer and its metadata, as docker-archive + OCI layout."""
    from ..transfer import archive as archives

    for name in args.images:
        engine.images.resolve(name)
    with _open_output(args.output, io, "save") as out:
        archives.save(engine, args.images, out)
    return Streamed()


def _open_input(path: str, io: IO) -> contextlib.AbstractContextManager[BinaryIO]:
    if not path or path == "-":
        return contextlib.nullcontext(io.stdin)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InvalidArgument(f"open {path}: no such file or directory") from None


def cmd_load(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from ..transfer import archive as archives

    with _open_input(args.input, io) as src:
        lines = archives.load(engine, src)
    return Lines([] if args.quiet else lines)


def cmd_export(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S20: the container's unified view as one flat tar."""
    engine.container(args.container)
    with _open_output(args.output, io, "export") as out:
        engine.export(args.container, out)
    return Streamed()


def cmd_import(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if args.reference:
        refs.parse(args.reference)
    with _open_input(args.file, io) as src:
        image_id = engine.import_image(src, args.reference, args.message, args.change,
                                       args.file)
    return Lines([image_id], kind="id")


def cmd_pull(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    image_id = _pull(engine, args.image, io, args.quiet, err=False)
    return Lines([str(refs.parse(args.image))] if args.quiet else [], kind="pull",
                 exit_code=0 if image_id else 1)


def cmd_push(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from ..transfer import registry

    registry.push(engine, args.image, (lambda line: None) if args.quiet else io.say)
    return Lines([])


def cmd_container_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if not args.force and not _confirm(io, "WARNING! This will remove all stopped containers."):
        return Lines(["Total reclaimed space: 0B"])
    removed, size = engine.prune_containers()
    head = ["Deleted Containers:", *removed, ""] if removed else []
    return Lines([*head, f"Total reclaimed space: {human.size(size)}"])


def cmd_image_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    what = ("all images without at least one container associated to them" if args.all
            else "all dangling images")
    if not args.force and not _confirm(io, f"WARNING! This will remove {what}."):
        return Lines(["Total reclaimed space: 0B"])
    r = engine.prune_images(all=args.all)
    body = [f"{what}: {ident}" for what, ident in r.lines]
    head = ["Deleted Images:", *body, ""] if body else []
    return Lines([*head, f"Total reclaimed space: {human.size(r.reclaimed)}"])


def _confirm(io: IO, warning: str) -> bool:
    """Docker asks on stdin; no answer (EOF, a notebook) means no."""
    io.say(f"{warning}\nAre you sure you want to continue? [y/N] ", err=False)
    try:
        answer = io.stdin.readline().decode().strip().lower()
    except (OSError, ValueError):
        answer = ""
    if answer not in ("y", "yes"):
        io.say("Not confirmed: nothing removed (add -f to skip this question).")
        return False
    return True


def cmd_system_df(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    images = engine.images.all()
    containers = engine.containers.all()
    used_images = {c.Image for c in containers}
    layer_sizes = {lay.chain_id: lay.size for lay in engine.layers.all()}
    used_layers: set[str] = set()
    for img in images:
        if img.id in used_images:
            used_layers.update(chain_ids(img.diff_ids))
    total = sum(layer_sizes.values())
    reclaim = sum(s for cid, s in layer_sizes.items() if cid not in used_layers)
    rw = {c.ID: (engine.rw_size(c), c.State.Running) for c in containers}
    rw_total = sum(size for size, _ in rw.values())
    rw_reclaim = sum(size for size, running in rw.values() if not running)

    def pct(part: int, whole: int) -> str:
        return f"{human.size(part)} ({round(100 * part / whole) if whole else 0}%)"

    rows = [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(len([i for i in images if i.id in used_images])),
         "Size": human.size(total), "Reclaimable": pct(reclaim, total)},
        {"Type": "Containers", "TotalCount": str(len(containers)),
         "Active": str(len([c for c in containers if c.State.Running])),
         "Size": human.size(rw_total), "Reclaimable": pct(rw_reclaim, rw_total)},
        {"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
        {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
    ]
    return Table("df", rows, DF_COLUMNS, args.format)


def cmd_info(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    info = engine.info()
    if args.format:
        return Document([info], "info", args.format)
    lines = [
        "Client:",
        " Context:    default",
        "",
        "Server:",
        f" Containers: {info['Containers']}",
        f"  Running: {info['ContainersRunning']}",
        f"  Paused: {info['ContainersPaused']}",
        f"  Stopped: {info['ContainersStopped']}",
        f" Images: {info['Images']}",
        f" Server Version: layerlab {info['ServerVersion']}",
        f" Storage Driver: {info['Driver']}",
        f" Isolation: {info['Isolation']}",
        f"  Why: {info['IsolationReason']}",
        f" Cgroup Freezer: {info['CgroupFreezer'] or 'none'}",
        f" Kernel Version: {info['KernelVersion']}",
        f" Operating System: {info['OperatingSystem']}",
        f" Architecture: {info['Architecture']}",
        f" CPUs: {info['NCPU']}",
        f" Docker Root Dir: {info['DockerRootDir']}",
    ]
    return Lines(lines, kind="info")


def cmd_version(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    import platform

    from ..services.engine import VERSION

    data = {"Client": {"Version": VERSION, "GoVersion": "python" + platform.python_version(),
                       "Os": "linux", "Arch": platform.machine()},
            "Server": {"Version": VERSION, "Engine": "LayerLab",
                       "KernelVersion": platform.release()}}
    if args.format:
        return Document([data], "version", args.format)
    return Lines([
        "Client:", f" Version:           {VERSION}",
        f" Python version:    {platform.python_version()}", " OS/Arch:           linux/"
        + platform.machine(), "", "Server: LayerLab Engine", f" Version:          {VERSION}",
        f" Kernel Version:   {platform.release()}"])
