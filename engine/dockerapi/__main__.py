"""``python -m layerlab.engine.dockerapi [--root DIR] [--time SECONDS] [URI]``.

``layerlab system service`` with the engine's settings as flags: what
``start_service`` (the kernel's way) and the tests run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import EngineError
from .listen import default_uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layerlab.engine.dockerapi",
                                     description="Serve the Docker Engine API.")
    parser.add_argument("uri", nargs="?", default=None,
                        help=f"unix:///path or tcp://127.0.0.1:PORT (default {default_uri()})")
    parser.add_argument("--root", type=Path, default=None, help="the engine's state directory")
    parser.add_argument("--storage-driver", default=None, help="overlay or vfs")
    parser.add_argument("--time", type=float, default=None, metavar="SECONDS",
                        help="exit after this long without a request (0: never)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a tcp:// address other than loopback (no TLS, no auth)")
    parser.add_argument("--group", default=None,
                        help="make the socket 0660 and owned by this group")
    parser.add_argument("--parent", type=int, default=0, metavar="PID",
                        help="stop (SIGTERM) when this parent process dies: a service served "
                             "for a notebook kernel's session never outlives the kernel")
    args = parser.parse_args(argv)
    if args.parent:
        import signal

        from ..linux.syscalls import prctl_set_pdeathsig

        prctl_set_pdeathsig(signal.SIGTERM)
        if os.getppid() != args.parent:  # it died before the signal was asked for
            return 0

    from ..services.engine import Engine
    from ..settings import default_root
    from .server import serve

    root = args.root or default_root()
    try:
        serve(lambda: Engine(root, args.storage_driver), args.uri or default_uri(), args.time,
              allow_remote=args.allow_remote, socket_group=args.group)
    except EngineError as e:
        print(f"layerlab: {e}", file=sys.stderr)
        return e.exit_code
    except ValueError as e:  # a bad LAYERLAB_* setting
        print(f"layerlab: {e}", file=sys.stderr)
        return 125
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)  # handler threads still inside engine calls must not delay the exit
