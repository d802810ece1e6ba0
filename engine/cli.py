"""``layerlab``: the docker command language in a terminal, printed like Docker's CLI."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # this module is the first a command loads: no ``typing`` here
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from .services.engine import Engine


def usage() -> str:
    import textwrap

    from .commands.grammar import command_names

    names = textwrap.fill("  ".join(command_names()), 88, initial_indent="  ",
                          subsequent_indent="  ", break_on_hyphens=False)
    return ("Usage: layerlab [--root DIR] [--storage-driver overlay|vfs] [docker] [OPTIONS] "
            "COMMAND [ARGS...]\n\n"
            f"A layered container engine in Python, with Docker's commands:\n{names}\n\n"
            "Docker's global options:\n"
            "      --config string   Location of client config files (default ~/.docker)\n"
            "  -D, --debug           Enable debug mode (tracebacks of internal errors)\n"
            "  -v, --version         Print version information and quit\n\n"
            "Run 'layerlab COMMAND --help' for more information on a command.")


class _EngineOnDemand:
    """The engine, opened on the command's first use of it: ``version`` or a usage error
    never pays for importing the services and opening the store (~60 ms of a start)."""

    def __init__(self, root: Path, driver: str | None) -> None:
        self._args = (root, driver)
        self._engine: Engine | None = None

    def __getattr__(self, name: str) -> Any:
        if self._engine is None:
            from .services.engine import Engine

            self._engine = Engine(*self._args)
        return getattr(self._engine, name)


class _GlobalFlags:
    """What precedes the command: LayerLab's own flags (``--root``, ``--storage-driver``),
    an optional ``docker`` word (cells and tutorials say ``docker run …``), and the docker
    CLI's global flags that mean something here (``--config``, ``-D``, ``-v``)."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.driver: str | None = None
        self.version = False

    def parse(self, args: list[str]) -> list[str]:
        """Consume the global flags; the rest is the command. Raises ValueError."""
        docker_word = False
        while args:
            flag = args[0]
            if flag == "docker" and not docker_word:
                docker_word = True
                args.pop(0)
                continue
            if flag in ("--help", "-h", "help") or not flag.startswith("-"):
                return args
            args.pop(0)
            key, eq, value = flag.partition("=")
            if key in ("-v", "--version"):
                self.version = True
            elif key in ("-D", "--debug"):
                os.environ["LAYERLAB_DEBUG"] = "1"
            elif key in ("--root", "--storage-driver", "--config"):
                if not eq:
                    if not args:
                        raise ValueError(f"flag needs an argument: {key}")
                    value = args.pop(0)
                if key == "--root":
                    self.root = value
                elif key == "--storage-driver":
                    self.driver = value
                else:
                    os.environ["DOCKER_CONFIG"] = value  # where ``login`` keeps credentials
            else:
                raise ValueError(f"unknown {'shorthand ' if not key.startswith('--') else ''}"
                                 f"flag: {key}")
        return args


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path
    from typing import cast

    from .errors import EngineError
    from .settings import default_root
    from .version import version_line

    args = list(sys.argv[1:] if argv is None else argv)
    flags = _GlobalFlags()
    try:
        args = flags.parse(args)
    except ValueError as e:
        print(f"{e}\nSee 'docker --help'.", file=sys.stderr)
        return 125
    if flags.version:
        print(version_line())
        return 0
    if not args or args[0] in ("--help", "-h", "help"):
        print(usage())
        return 0
    from . import faults
    from .commands import IO, error_message, execute

    faults.install()
    io = IO.std()
    try:
        root = Path(flags.root) if flags.root else default_root()
        engine = cast("Engine", _EngineOnDemand(root, flags.driver))
        result = execute(engine, args, io)
        text = result.text()
    except EngineError as e:
        io.flush()
        print(error_message(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # a bug of ours: one line, never a traceback (unless asked)
        if os.environ.get("LAYERLAB_DEBUG"):
            raise
        io.flush()
        print(f"layerlab: internal error: {type(e).__name__}: {e} "
              "(LAYERLAB_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 125
    if text:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return result.exit_code


def run() -> None:
    """Console entry point: the command runs in this user's warm CLI server if there is
    one (``cliserver``), else here; then exit without tearing the interpreter down."""
    from .cliserver import client

    code = client.forward(sys.argv[1:])
    os._exit(finish(main) if code is None else code)


def finish(command: Callable[[], int]) -> int:
    """Run the command and flush what it printed: its exit code.

    Everything is flushed and no atexit work exists, so the caller may skip Python's
    finalisation (``os._exit``), which saves several milliseconds on every command.
    """
    import contextlib

    try:
        code = command()
        sys.stdout.flush()
    except BrokenPipeError:  # `layerlab images | head -1`: the reader left, as SIGPIPE would
        code = 141
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    from . import faults

    faults.finish()
    return code


if __name__ == "__main__":
    run()
