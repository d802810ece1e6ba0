"""Engine calls that report through a callback or write to a file, as response iterators.

``pull`` tells its progress through a callback, ``export`` and ``save`` write a tar into a
file object; a streamed response wants an iterator. ``Produced`` runs the call in a
thread of its own and hands over what it emits as it comes. Progress messages queue
without bound (they are small, and a slow client must never hold up an engine call that
may hold the store lock); bytes queue up to a few MiB, which only slows the writer. When
the client leaves, the iterator is closed and the call's next emit raises
``BrokenPipeError``, so it stops and cleans up as any failed call does.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Generic, TypeVar, cast

T = TypeVar("T")
CHUNK = 256 << 10
_DONE = object()


class Produced(Generic[T]):
    """Iterate over what ``call(emit)`` emits; ``result`` is its return value once the
    iteration ended, and its exception is raised by the iteration."""

    def __init__(self, call: Callable[[Callable[[T], None]], Any], bound: int = 0) -> None:
        self._call = call
        self._items: queue.Queue[Any] = queue.Queue(bound)
        self._closed = threading.Event()
        self._error: BaseException | None = None
        self.result: Any = None
        self._thread: threading.Thread | None = None

    def emit(self, item: T) -> None:
        while True:
            if self._closed.is_set():
                raise BrokenPipeError("the client has gone")
            try:
                self._items.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            self.result = self._call(self.emit)
        except BaseException as e:
            self._error = e
        finally:
            while True:  # the end marker must get through even a full queue
                try:
                    self._items.put(_DONE, timeout=0.5)
                    break
                except queue.Full:
                    if self._closed.is_set():
                        break

    def __iter__(self) -> Iterator[T]:
        self._thread = threading.Thread(target=self._run, name="dockerapi-producer",
                                        daemon=True)
        self._thread.start()
        try:
            while (item := self._items.get()) is not _DONE:
                yield item
            self._thread.join()
            if self._error is not None:
                raise self._error
        finally:
            self._closed.set()


class _QueueWriter(io.RawIOBase):
    """Not seekable, but it knows its position, as a pipe's writer does (``tarfile``
    asks for it)."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self._emit = emit
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._emit(bytes(data))
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) == (0, io.SEEK_CUR):
            return self._position
        raise io.UnsupportedOperation("seek")

    def tell(self) -> int:
        return self._position


def written(call: Callable[[BinaryIO], Any]) -> Iterator[bytes]:
    """The bytes ``call(out)`` writes to ``out``, in chunks of up to 256 KiB."""
    def run(emit: Callable[[bytes], None]) -> Any:
        with io.BufferedWriter(_QueueWriter(emit), CHUNK) as out:
            return call(out)
    return iter(Produced(run, bound=16))


def body_file(stream: io.RawIOBase | io.BufferedIOBase) -> BinaryIO:
    """A streamed request body as the buffered file the engine's readers expect."""
    if isinstance(stream, io.BufferedIOBase):
        return cast(BinaryIO, stream)
    return io.BufferedReader(stream, CHUNK)
