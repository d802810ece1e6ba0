"""``layerlab``: the docker command language in a terminal, printed like Docker's CLI."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from .commands import IO, EngineError, error_message, execute
from .settings import default_root


def usage() -> str:
    import textwrap

    from .commands.grammar import command_names

    names = textwrap.fill("  ".join(command_names()), 88, initial_indent="  ",
                          subsequent_indent="  ", break_on_hyphens=False)
    return ("Usage: layerlab [--root DIR] [--storage-driver overlay|vfs] COMMAND [ARGS...]\n\n"
            f"A layered container engine in Python, with Docker's commands:\n{names}\n"
            "Run 'layerlab COMMAND --help' for more information on a command.")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root, driver = None, None
    while args and args[0].startswith("--") and args[0] != "--help":
        flag = args.pop(0)
        key, _, value = flag.partition("=")
        if key not in ("--root", "--storage-driver"):
            print(f"layerlab: unknown global flag {key} (known: --root, --storage-driver)",
                  file=sys.stderr)
            return 125
        if not value:
            if not args:
                print(f"layerlab: {key} needs a value", file=sys.stderr)
                return 125
            value = args.pop(0)
        if key == "--root":
            root = Path(value)
        else:
            driver = value
    if args[:1] == ["docker"]:
        args = args[1:]  # cells and tutorials say "docker run …"
    if not args or args[0] in ("--help", "help"):
        print(usage())
        return 0
    from . import faults
    from .services.engine import Engine

    faults.install()
    io = IO.std()
    try:
        engine = Engine(root or default_root(), driver)
        result = execute(engine, args, io)
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
    text = result.text()
    if text:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return result.exit_code


def run() -> None:
    """Console entry point: exit without tearing the interpreter down.

    Everything is flushed and no atexit work exists, so skipping Python's finalisation is
    safe, and it saves several milliseconds on every ``docker …`` invocation.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `layerlab images | head -1`: the reader left, as SIGPIPE would
        code = 141
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    from . import faults

    faults.finish()
    os._exit(code)


if __name__ == "__main__":
    run()
