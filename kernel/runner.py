"""Running one docker command for a cell: its streams, a worker thread, interrupts.

The command runs on a worker thread so the kernel's event loop keeps pumping its output.
Typed progress events (a build's steps and RUN output) happen on that thread too; each is
handed to the event loop with ``call_soon_threadsafe``, which keeps their order, and the
command's outcome is handed over the same way after the last of them.

An interrupt is handled as Docker's sig-proxy does: SIGINT goes to the foreground
container; if the container is still running ~2 s later the cell detaches from it (it
keeps running, as after Docker's detach keys) and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from layerlab.engine import IO, EngineError, Progress, Result, error_message, execute, grammar

from .cells import Command
from .streams import OutputPump

GRACE_SECONDS = 1.5  # after forwarding SIGINT; plus the drain below stays within ~2 s
DRAIN_SECONDS = 0.4

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How a command ended: a result, or an error message shown as Jupyter's error."""

    result: Result | None = None
    message: str = ""
    ename: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.message)


class _Run:
    """State of one running command, shared by the worker thread and the event loop."""

    def __init__(self, cmd: Command, loop: asyncio.AbstractEventLoop) -> None:
        self.cmd = cmd
        self.name = _command_name(cmd.argv)
        self.loop = loop
        self.done: asyncio.Future[Outcome] = loop.create_future()
        self.container = ""  # set (from the worker) once a foreground container started
        self.removes = _removes_container(cmd.argv)  # `run --rm`: no logs to point to later
        self.thread: threading.Thread | None = None
        self.interrupts = 0

    def finish(self, outcome: Outcome) -> None:
        if not self.done.done():
            self.done.set_result(outcome)


class Runner:
    """Runs commands against one engine, with output going to ``emit``."""

    def __init__(self, engine: Callable[[], Any], emit: Callable[[str, str], None],
                 max_lines: int, max_chars: int) -> None:
        self.engine = engine
        self.emit = emit
        self.max_lines = max_lines
        self.max_chars = max_chars
        self.current: tuple[_Run, OutputPump] | None = None

    def interrupt(self) -> None:
        """Jupyter's interrupt (SIGINT) arrived: pass it to the running command, if any."""
        if self.current is not None:
            self._interrupt(*self.current)

    async def run(self, cmd: Command,
                  progress: Callable[[Progress, OutputPump], None] | None = None) -> Outcome:
        """Run ``cmd``, its output going to the runner's ``emit``. With ``progress``, the
        command's typed progress events go to it on the event loop, in order, with the
        pump that shows the command's output (so it can put text among them)."""
        run = _Run(cmd, asyncio.get_running_loop())
        pump = OutputPump(self.emit, self.max_lines, self.max_chars,
                          lambda: _truncation_hint(run))
        try:
            io = self._open_io(cmd, pump)
        except OSError as e:
            pump.close()
            return Outcome(message=f"{e.filename}: {e.strerror}", ename="RedirectError")
        if progress is not None:
            io.progress = _handed_to_loop(run.loop, lambda event: progress(event, pump))
        run.thread = threading.Thread(target=self._work, args=(run, io), daemon=True,
                                      name=f"docker {' '.join(cmd.argv[:1])}")
        self.current = (run, pump)
        try:
            run.thread.start()
            outcome = await run.done
        finally:
            self.current = None
        code = outcome.result.exit_code if outcome.result else 0
        if run.interrupts and code:
            outcome = Outcome(message=f"Interrupted: `{cmd.source}` ended with exit code "
                                      f"{code} after SIGINT.", ename="KeyboardInterrupt")
        if run.thread.is_alive():  # detached: stop showing its output at once
            pump.close()
        else:
            await pump.drained(DRAIN_SECONDS)
            pump.close()
        return outcome

    def _open_io(self, cmd: Command, pump: OutputPump) -> IO:
        """The command's stdin, stdout and stderr, as the cell's redirections say."""
        with contextlib.ExitStack() as undo:
            if cmd.stdin_data is not None:
                stdin: BinaryIO = undo.enter_context(tempfile.TemporaryFile())
                stdin.write(cmd.stdin_data)
                stdin.seek(0)
            else:
                stdin = undo.enter_context(open(cmd.stdin_path or os.devnull, "rb"))
            if cmd.stdout_path:
                stdout: BinaryIO = undo.enter_context(
                    open(_path(cmd.stdout_path), "ab" if cmd.stdout_append else "wb"))
            else:
                stdout = undo.enter_context(open(pump.pipe("stdout"), "wb"))
            if cmd.stderr_to_stdout:
                stderr = stdout
            elif cmd.stderr_path:
                stderr = undo.enter_context(
                    open(_path(cmd.stderr_path), "ab" if cmd.stderr_append else "wb"))
            else:
                stderr = undo.enter_context(open(pump.pipe("stderr"), "wb"))
            undo.pop_all()
        return IO(stdin, stdout, stderr, terminal=False)

    def _work(self, run: _Run, io: IO) -> None:
        """Worker thread: execute, write text results where stdout is redirected."""
        io.attached = lambda cid: setattr(run, "container", cid)
        outcome = Outcome()
        try:
            result = execute(self.engine(), run.cmd.argv, io)
            if run.cmd.stdout_path and result.text():
                io.stdout.write(result.text().encode() + b"\n")
            outcome = Outcome(result)
        except EngineError as e:
            outcome = Outcome(message=error_message(e), ename=type(e).__name__)
        except KeyboardInterrupt:  # raised into this thread by _interrupt
            outcome = Outcome(message=f"Interrupted: `{run.cmd.source}` was stopped.",
                              ename="KeyboardInterrupt")
        except BrokenPipeError:  # the cell detached and closed the pipe it wrote to
            outcome = Outcome(message="Detached.", ename="KeyboardInterrupt")
        except Exception as e:  # a bug: say what, keep the kernel usable
            log.exception("docker %s failed", " ".join(run.cmd.argv))
            outcome = Outcome(message=f"LayerLab internal error: {type(e).__name__}: {e}",
                              ename=type(e).__name__)
        finally:
            for stream in {id(s): s for s in (io.stdout, io.stderr, io.stdin)}.values():
                with contextlib.suppress(OSError):
                    stream.close()
            with contextlib.suppress(RuntimeError):  # the loop is gone: kernel shut down
                run.loop.call_soon_threadsafe(run.finish, outcome)

    def _interrupt(self, run: _Run, pump: OutputPump) -> None:
        """SIGINT: forward it (sig-proxy), then detach if the command is still running."""
        run.interrupts += 1
        if run.done.done():
            return
        if run.interrupts > 1:
            self._detach(run, pump)
            return
        if run.container:
            with contextlib.suppress(EngineError, OSError):
                self.engine().tasks.kill(run.container, "SIGINT")
        elif run.name != "exec" and run.thread is not None:
            # no container of ours: stop the engine call as Ctrl-C stops the CLI (exec'd
            # processes got Jupyter's SIGINT themselves: they are in the kernel's group)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(run.thread.ident or 0),
                                                       ctypes.py_object(KeyboardInterrupt))
        run.loop.call_later(GRACE_SECONDS, self._detach, run, pump)

    def _detach(self, run: _Run, pump: OutputPump) -> None:
        if run.done.done():
            return
        pump.close()
        name = run.container[:12]
        if name:
            what = (f"Detached from container {name}: it did not stop on SIGINT and keeps "
                    f"running. `docker stop {name}` stops it; `docker logs {name}` shows "
                    "its output.")
        elif run.name == "exec":
            what = ("Detached: the exec'd process did not stop on SIGINT and keeps running "
                    "in its container (`docker top CONTAINER` lists it).")
        else:
            what = f"Detached: `{run.cmd.source}` did not stop and finishes in the background."
        run.finish(Outcome(message=what, ename="KeyboardInterrupt"))


def _command_name(argv: list[str]) -> str:
    """``exec`` for ``docker exec …`` and ``docker container exec …`` alike."""
    try:
        return grammar.split_command(argv)[0]
    except EngineError:
        return ""


def _removes_container(argv: list[str]) -> bool:
    try:
        name, rest = grammar.split_command(argv)
        return name == "run" and bool(grammar.parsers()[name].parse_args(rest).rm)
    except EngineError:
        return False


def _handed_to_loop(loop: asyncio.AbstractEventLoop,
                    deliver: Callable[[Progress], None]) -> Callable[[Progress], None]:
    """``io.progress`` for the worker thread: each event goes to ``deliver`` on the loop, in
    the order they happened, with its step record copied as it is now (the builder goes on
    updating the record while the loop has not yet run ``deliver``)."""
    def hand(event: Progress) -> None:
        snapshot = replace(event, step=dict(event.step) if event.step else None)
        with contextlib.suppress(RuntimeError):  # the loop is gone: kernel shut down
            loop.call_soon_threadsafe(deliver, snapshot)
    return hand


def _truncation_hint(run: _Run) -> str:
    if run.container and run.removes:
        return ("The container was removed (`--rm`), and its log with it: run it without "
                "`--rm` to read everything with `docker logs`, or redirect the output to a "
                "file (`> out.txt`).")
    if run.container:
        return f"`docker logs {run.container[:12]}` shows everything."
    return "Redirect it to a file (`> out.txt`) to keep everything."


def _path(name: str) -> str:
    """Redirection targets are relative to the kernel's folder: the notebook's."""
    return str(Path(name).expanduser())
