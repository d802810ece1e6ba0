"""A command's stdout/stderr pipes (and text given as events), copied to the notebook as
they come.

Container output reaches the kernel through pipes whose write ends the engine hands to the
container's monitor (``run``) or to the exec'd process. The read ends sit on the kernel's
event loop, so output shows while the command runs and widgets stay responsive; it is sent
in batches (a chatty container would otherwise flood the notebook with messages) and cut
off past a limit, with a note, so a runaway loop cannot freeze the browser.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
from collections.abc import Callable

BATCH_SECONDS = 0.05


class OutputPump:
    """Reads pipes on the event loop and emits ``(stream name, text)`` batches."""

    def __init__(self, emit: Callable[[str, str], None], max_lines: int, max_chars: int,
                 truncation_hint: Callable[[], str]) -> None:
        self.loop = asyncio.get_running_loop()
        self.emit = emit
        self.max_lines = max_lines
        self.max_chars = max_chars
        self.hint = truncation_hint
        self.readers: dict[int, str] = {}
        self.decoders: dict[str, codecs.IncrementalDecoder] = {}
        self.pending: list[tuple[str, str]] = []
        self.flush_handle: asyncio.TimerHandle | None = None
        self.lines = self.chars = 0
        self.omitted_lines = self.omitted_chars = 0
        self.eof = asyncio.Event()
        self.eof.set()

    def pipe(self, name: str) -> int:
        """A new pipe whose output shows as stream ``name``; returns its write end."""
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)
        self.readers[r] = name
        self.decoders.setdefault(name, codecs.getincrementaldecoder("utf-8")("replace"))
        self.loop.add_reader(r, self._readable, r)
        self.eof.clear()
        return w

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        name = self.readers[fd]
        if not data:
            self._forget(fd)
            self.take(name, self.decoders[name].decode(b"", final=True))
            self.flush()
            return
        self.take(name, self.decoders[name].decode(data))

    def take(self, name: str, text: str) -> None:
        """Show ``text`` as stream ``name`` (batched, within the limits): what a pipe
        read, or text a front-end got as an event (a build's RUN output)."""
        if not text:
            return
        if self.truncated:
            self.omitted_lines += text.count("\n")
            self.omitted_chars += len(text)
            return
        room = min(self.max_chars - self.chars, _index_after_lines(text, self.max_lines
                                                                   - self.lines))
        shown, rest = text[:room], text[room:]
        self.lines += shown.count("\n")
        self.chars += len(shown)
        if shown:
            self._queue(name, shown)
        if rest:
            self.omitted_lines += rest.count("\n")
            self.omitted_chars += len(rest)
            self._queue("stderr", ("" if shown.endswith("\n") or not shown else "\n")
                        + f"[… output truncated after {self.lines:,} lines; the rest is not "
                        f"shown here. {self.hint()}]\n")

    @property
    def truncated(self) -> bool:
        return self.omitted_chars > 0

    def _queue(self, name: str, text: str) -> None:
        if self.pending and self.pending[-1][0] == name:
            self.pending[-1] = (name, self.pending[-1][1] + text)
        else:
            self.pending.append((name, text))
        if self.flush_handle is None:
            self.flush_handle = self.loop.call_later(BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        pending, self.pending = self.pending, []
        for name, text in pending:
            self.emit(name, text)

    def _forget(self, fd: int) -> None:
        self.loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)
        del self.readers[fd]
        if not self.readers:
            self.eof.set()

    async def drained(self, timeout: float) -> None:
        """Wait until every writer has closed its end, or ``timeout`` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.eof.wait(), timeout)

    def close(self) -> None:
        """Stop reading: a writer still holding a pipe (a detached container) gets EPIPE."""
        for fd in list(self.readers):
            self._forget(fd)
        if self.truncated:
            self._queue("stderr", f"[{self.omitted_lines:,} more lines "
                                  f"({self.omitted_chars:,} characters) were not shown.]\n")
        self.flush()


def _index_after_lines(text: str, lines: int) -> int:
    """Length of the prefix of ``text`` holding at most ``lines`` newlines."""
    if lines <= 0:
        return 0
    pos = -1
    for _ in range(lines):
        pos = text.find("\n", pos + 1)
        if pos < 0:
            return len(text)
    return pos + 1
