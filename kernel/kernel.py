"""The LayerLab Jupyter kernel: cells of ``docker …`` lines run on the LayerLab engine.

A thin front-end over the engine's command layer: cells are parsed into argv lists,
``layerlab.engine.commands.execute`` runs them, and the typed results are rendered as rich
outputs whose ``text/plain`` is exactly what the CLI prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ipykernel.kernelbase import Kernel
from layerlab.engine import (
    IO,
    VERSION,
    BackgroundService,
    Engine,
    EngineError,
    Table,
    default_root,
    execute,
    start_service,
)
from traitlets import Integer

from . import cells, commands, completion
from .livebuild import LiveBuild
from .render import Output, render
from .runner import Outcome, Runner

RED, RESET = "\x1b[0;31m", "\x1b[0m"


class LayerLabKernel(Kernel):
    implementation = "layerlab"
    implementation_version = VERSION
    banner = ("LayerLab (Docker): Docker's commands on a real layered container engine "
              "written in Python. Try `docker run --rm busybox echo hello`.")
    language_info = {  # noqa: RUF012 - ipykernel reads it as a class attribute
        "name": "docker",
        "version": VERSION,
        "mimetype": "text/x-sh",
        "file_extension": ".sh",
        "pygments_lexer": "bash",
        "codemirror_mode": "shell",
    }
    help_links = [  # noqa: RUF012
        {"text": "Docker CLI reference", "url": "https://docs.docker.com/reference/cli/docker/"},
    ]
    max_output_lines = Integer(2000, help="Lines of a command's output shown before the "
                                          "rest is cut off with a note").tag(config=True)
    max_output_chars = Integer(500_000, help="Characters of a command's output shown "
                                             "before the rest is cut off").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._engine: Engine | None = None
        self._service: BackgroundService | None = None
        self.runner = Runner(self.engine, self._stream, self.max_output_lines,
                             self.max_output_chars)
        self._interrupted = False
        self._silent = False

    def engine(self) -> Engine:
        """The engine on the default root (``LAYERLAB_ROOT`` overrides), made on first use."""
        if self._engine is None:
            self._engine = Engine(default_root())
        return self._engine

    # -- execution -------------------------------------------------------------------
    async def do_execute(self, code: str, silent: bool, store_history: bool = True,
                         user_expressions: dict[str, Any] | None = None,
                         allow_stdin: bool = False, *, cell_meta: Any = None,
                         cell_id: Any = None) -> dict[str, Any]:
        self._silent = silent
        self._interrupted = False
        try:
            with _sigint_calls(self._on_sigint):
                return await self._execute_cell(code)
        except KeyboardInterrupt:
            return self._error("KeyboardInterrupt", "Interrupted.")

    async def _execute_cell(self, code: str) -> dict[str, Any]:
        try:
            cell = cells.parse(code)
            if cell.magic == "file":
                return self._write_file(cell)
            dockerfile = (commands.dockerfile_command(cell) if cell.magic == "dockerfile"
                          else None)
        except cells.CellError as e:
            return self._error("CellError", str(e))
        to_run = cell.commands if dockerfile is None else [dockerfile[0]]
        try:
            for cmd in to_run:
                reply = await self._run_command(cmd)
                if reply is not None:
                    return reply
        finally:
            if dockerfile is not None:
                dockerfile[1].cleanup()
        return self._ok()

    async def _run_command(self, cmd: cells.Command) -> dict[str, Any] | None:
        """One command of a cell; a reply (an error, a help page) ends the cell."""
        if self._interrupted:
            return self._error("KeyboardInterrupt", "Interrupted.")
        help_text = commands.help_request(cmd.argv)
        if help_text is not None:
            return self._ok([{"source": "page", "data": {"text/plain": help_text},
                              "start": 0}])
        asked = commands.service_request(cmd)
        if isinstance(asked, str):
            return self._error("UsageError", asked)
        if asked is not None:
            return self._serve(*asked)
        refusal = commands.binary_to_notebook(cmd) or commands.streaming_stats(cmd)
        if refusal:
            return self._error("UsageError", refusal)
        if commands.wants_terminal(cmd):
            self._stream("stderr", "[a notebook has no terminal: -t is ignored and stdin is "
                                   "empty; pass input with a heredoc (<<EOF … EOF)]\n")
        live = LiveBuild(self._publish) if commands.is_live_build(cmd) else None
        outcome = await self.runner.run(cmd, live.take if live else None)
        return self._show(cmd, outcome, live)

    def _show(self, cmd: cells.Command, outcome: Outcome,
              live: LiveBuild | None = None) -> dict[str, Any] | None:
        """Publish the result's outputs; an error reply if the command failed."""
        if outcome.failed:
            if live:
                live.failed()
            return self._error(outcome.ename, outcome.message)
        result = outcome.result
        assert result is not None
        if not cmd.stdout_path:
            try:
                outputs = render(result, self.engine())
            except EngineError as e:  # e.g. the history drill-down's image went away
                outputs = [Output({"text/plain": result.text() + "\n"}, stream="stdout")]
                self.log.warning("rendering %s: %s", cmd.argv, e)
            if live and outputs and not outputs[0].stream:
                live.show(outputs.pop(0).data)  # the finished list replaces the live one
            for out in outputs:
                self._publish(out)
        if result.exit_code:
            return self._error("ExitCode", f"`{cmd.source}` exited with status "
                                           f"{result.exit_code}")
        return None

    def _serve(self, uri: str, idle: float | None) -> dict[str, Any] | None:
        """The Docker API for this notebook's engine, served from a child process for the
        kernel's session, so a terminal's ``docker`` sees what the notebook shows."""
        if self._service is None or not self._service.running():
            try:
                self._service = start_service(self.engine().root, uri=uri or None,
                                              idle_timeout=idle, with_caller=True)
            except EngineError as e:
                return self._error(type(e).__name__, str(e))
            said = "Serving"
        else:
            said = "Already serving"
        where = self._service.uri
        self._stream("stdout", f"{said} the Docker API of this notebook's engine on {where} "
                               "until the kernel stops.\nIn a terminal: export DOCKER_HOST="
                               f"{where}   (then `docker ps` lists this notebook's "
                               "containers)\n")
        return None

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        if self._service is not None:
            self._service.stop()
        return await super().do_shutdown(restart)

    def _write_file(self, cell: cells.Cell) -> dict[str, Any]:
        """``%%file PATH``: the cell body becomes a file (a build context file, a script)."""
        path = Path(cell.args[0]).expanduser()
        existed = path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            body = cell.body if cell.body.endswith("\n") or not cell.body else cell.body + "\n"
            path.write_text(body)
        except OSError as e:
            return self._error("OSError", f"%%file {cell.args[0]}: {e.strerror}")
        self._stream("stdout", f"{'Overwriting' if existed else 'Writing'} {cell.args[0]}\n")
        return self._ok()

    def _on_sigint(self) -> None:
        self._interrupted = True
        self.runner.interrupt()

    # -- publishing ------------------------------------------------------------------
    def _stream(self, name: str, text: str) -> None:
        if not self._silent:
            self.send_response(self.iopub_socket, "stream", {"name": name, "text": text},
                               channel="shell")

    def _publish(self, out: Output, display_id: str = "", update: bool = False) -> None:
        """Send an output; with ``display_id``, one that ``update`` later replaces."""
        if out.stream:
            self._stream(out.stream, out.data["text/plain"])
        elif not self._silent:
            transient = {"display_id": display_id} if display_id else {}
            self.send_response(self.iopub_socket,
                               "update_display_data" if update else "display_data",
                               {"data": out.data, "metadata": out.metadata,
                                "transient": transient}, channel="shell")

    def _ok(self, payload: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"status": "ok", "execution_count": self.execution_count,
                "payload": payload or [], "user_expressions": {}}

    def _error(self, ename: str, message: str) -> dict[str, Any]:
        """Docker's one-line message as Jupyter's error, without a Python traceback."""
        content = {"ename": ename, "evalue": message,
                   "traceback": [f"{RED}{line}{RESET}" for line in message.splitlines()]}
        if not self._silent:
            self.send_response(self.iopub_socket, "error", content, channel="shell")
        return {"status": "error", "execution_count": self.execution_count, **content}

    # -- completion and help -----------------------------------------------------------
    async def do_complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        c = completion.complete(code, cursor_pos, completion.Names(self._containers,
                                                                   self._images))
        types = [{"start": c.start, "end": cursor_pos, "text": m, "type": t}
                 for m, t in zip(c.matches, c.types, strict=True)]
        return {"status": "ok", "matches": c.matches, "cursor_start": c.start,
                "cursor_end": cursor_pos, "metadata": {"_jupyter_types_experimental": types}}

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0,
                         omit_sections: Any = ()) -> dict[str, Any]:
        return {"status": "ok", "found": True, "metadata": {},
                "data": {"text/plain": completion.help_text(code, cursor_pos)}}

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        status, indent = cells.completeness(code)
        return {"status": status, "indent": indent} if status == "incomplete" else {
            "status": status}

    def _listing(self, argv: list[str]) -> list[dict[str, Any]]:
        """Rows of a listing through the command layer; none if the store is unreadable."""
        with open(os.devnull, "rb") as i, open(os.devnull, "wb") as o:
            try:
                result = execute(self.engine(), argv, IO(i, o, o))
            except (EngineError, OSError):
                return []
        return result.rows if isinstance(result, Table) else []

    def _containers(self, running_only: bool) -> list[str]:
        rows = self._listing(["ps"] if running_only else ["ps", "-a"])
        return [r["Names"] for r in rows] + [r["ID"] for r in rows]

    def _images(self) -> list[str]:
        rows = self._listing(["images", "-a"])
        tags = [f"{r['Repository']}:{r['Tag']}" for r in rows if r["Tag"] != "<none>"]
        return tags + [r["Repository"] for r in rows if r["Tag"] == "latest"] + [
            r["ID"] for r in rows]


@contextlib.contextmanager
def _sigint_calls(callback: Callable[[], None]) -> Iterator[None]:
    """While a cell runs, SIGINT (Jupyter's interrupt) calls ``callback`` on the event loop
    instead of raising KeyboardInterrupt into it, which would stop the kernel's loop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.signal(signal.SIGINT,
                             lambda _sig, _frame: loop.call_soon_threadsafe(callback))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
