"""What the kernel decides about a command line before running it: help requests, the
``%%dockerfile`` build command, refusals and hints a terminal user would not need."""

from __future__ import annotations

import tempfile
from pathlib import Path

from layerlab.engine import EngineError, grammar

from . import cells, completion


def help_request(argv: list[str]) -> str | None:
    """``docker``, ``docker help [CMD]``, ``docker CMD?``: usage text for the pager."""
    asked = (not argv or argv[0] in ("help", "--help")
             or (argv[-1].endswith("?") and len(argv) <= 2))
    if not asked:
        return None
    words = [w.rstrip("?") for w in argv if w.rstrip("?") not in ("", "help", "--help")]
    name = completion.command_of(["docker", *words])[0]
    return grammar.parsers()[name].format_help().rstrip() if name else completion.overview()


def wants_terminal(cmd: cells.Command) -> bool:
    """``docker run -it …`` pasted from a tutorial: an interactive shell needs a terminal."""
    try:
        name, rest = grammar.split_command(cmd.argv)
        if name not in ("run", "exec") or cmd.stdin_data is not None or cmd.stdin_path:
            return False
        return bool(grammar.parsers()[name].parse_args(rest).tty)
    except EngineError:
        return False


def is_live_build(cmd: cells.Command) -> bool:
    """A ``build`` whose steps show as a live list: its output comes to the notebook, and
    not held back by ``-q``."""
    try:
        name, rest = grammar.split_command(cmd.argv)
        return (name == "build" and not cmd.stdout_path
                and not grammar.parsers()[name].parse_args(rest).quiet)
    except EngineError:
        return False


def binary_to_notebook(cmd: cells.Command) -> str:
    """``save``/``export`` write a tar to stdout: refuse when stdout is the notebook, as
    Docker refuses a terminal."""
    try:
        name, rest = grammar.split_command(cmd.argv)
        if name not in ("save", "export") or cmd.stdout_path:
            return ""
        if grammar.parsers()[name].parse_args(rest).output:
            return ""
    except EngineError:
        return ""  # the command itself reports its usage error
    return (f"docker {name}: refusing to write a tar archive into the notebook. Use "
            f"`-o FILE` or redirect: `docker {' '.join(cmd.argv)} > FILE`")


def streaming_stats(cmd: cells.Command) -> str:
    """``docker stats`` redraws its table every second until interrupted, which a notebook
    cell cannot show: refuse, pointing at ``--no-stream`` (one sample, a table to keep)."""
    try:
        name, rest = grammar.split_command(cmd.argv)
        if name != "stats" or grammar.parsers()[name].parse_args(rest).no_stream:
            return ""
    except EngineError:
        return ""  # the command itself reports its usage error
    return ("docker stats: a notebook cannot redraw a live table; add --no-stream for one "
            f"sample: `{' '.join(['docker', *cmd.argv, '--no-stream'])}`")


def service_request(cmd: cells.Command) -> tuple[str, float | None] | str | None:
    """``docker system service [--time S] [URI]``: (URI or "", idle timeout), or why the
    kernel cannot serve it. A notebook cannot block on a server, so the kernel serves
    the API for its session instead (``kernel.SessionService``)."""
    try:
        name, rest = grammar.split_command(cmd.argv)
        if name != "system service":
            return None
        args = grammar.parsers()[name].parse_args(rest)
    except EngineError:
        return None  # the command itself reports its usage error
    if args.group or args.allow_remote:
        return ("docker system service: --group and --allow-remote change who may reach "
                "the engine; run it in a terminal (`layerlab system service …`)")
    return args.uri or "", (args.time if args.time and args.time > 0 else None)


def dockerfile_command(cell: cells.Cell) -> tuple[cells.Command, tempfile.TemporaryDirectory[str]]:
    """``%%dockerfile [flags]`` → ``docker build [flags] -f <the cell> .`` (notebook folder
    as context); the Dockerfile lives outside the context, so it is not part of it."""
    if "build" not in grammar.parsers():
        raise cells.CellError("%%dockerfile needs the engine's `build` command, which this "
                              "LayerLab version does not have yet.")
    if any(a in ("-f", "--file") or a.startswith("--file=") for a in cell.args):
        raise cells.CellError("%%dockerfile: the cell is the Dockerfile; drop -f/--file")
    holder = tempfile.TemporaryDirectory(prefix="layerlab-dockerfile-")
    path = Path(holder.name) / "Dockerfile"
    path.write_text(cell.body)
    argv = ["build", *cell.args, "-f", str(path)]
    if completion.positionals(grammar.parsers()["build"], cell.args) == 0:
        argv.append(".")
    return cells.Command(argv, "%%dockerfile " + " ".join(cell.args)), holder
