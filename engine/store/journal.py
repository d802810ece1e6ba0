"""Intent records and the trash: how a multi-step change survives ``kill -9``.

Every operation that changes several records (``rmi``, ``rm``, ``commit``, ``load``,
``import``, ``pull``, ``build``, ``prune``, ``create``) first writes an intent
(``journal/<id>.json``) saying what it is about to do, holds an ``flock`` on it for as long
as it runs, adds to it as it creates things, and deletes it when done. The kernel drops
the lock when the process dies however it dies, so the next command that takes the store
lock finds the intents whose owners are gone and finishes (deletions) or takes back
(creations) what they started: the store is always in the old or the new state. When
nothing crashed, that check is one ``listdir`` of an empty directory.

Directories are deleted by renaming them into ``trash/`` first (one atomic step: the
object is there whole or not at all, never half-deleted under its own name), then removed
at leisure; a crash mid-removal leaves only trash, which recovery empties.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fs.atomic import atomic_write, private_dir, remove_tree


def discard(root: Path, path: Path) -> None:
    """Remove a file or directory tree below the state ``root`` in one visible step: rename
    it into the trash, then delete it there."""
    trash = private_dir(root / "trash")
    dest = trash / os.urandom(16).hex()  # a unique name (uuid4's bytes; uuid imports platform)
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return
    except OSError:  # another filesystem, a mount point: remove in place
        remove_tree(path)
        return
    remove_tree(dest)


@dataclass
class Intent:
    """One running operation's record, held locked by its process."""

    path: Path
    fd: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> str:
        return str(self.data.get("op", ""))

    def note(self, **changes: Any) -> None:
        """Add to the record (before the change it announces)."""
        self.data.update(changes)
        atomic_write(self.path.with_suffix(".json"), json.dumps(self.data).encode(), 0o600)

    def append(self, key: str, value: Any) -> None:
        self.note(**{key: [*self.data.get(key, []), value]})


class Journal:
    def __init__(self, root: Path) -> None:
        self.dir = root / "journal"
        self.trash_dir = root / "trash"
        self.recovering: set[str] = set()  # abandoned intents being undone: protect nothing

    # -- intents ----------------------------------------------------------------------
    @contextlib.contextmanager
    def intent(self, op: str, **data: Any) -> Iterator[Intent]:
        """Announce ``op``; the record goes when the block ends, and stays (for recovery)
        only if the process dies inside it. An exception is the operation's own failure,
        which it has taken back itself."""
        private_dir(self.dir)
        name = f"{os.getpid()}-{os.urandom(6).hex()}"
        lock = self.dir / f"{name}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        it = Intent(lock, fd)
        try:
            it.note(op=op, pid=os.getpid(), **data)
            yield it
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock.with_suffix(".json"))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            os.close(fd)

    def abandoned(self) -> list[Intent]:
        """Intents whose process is gone (their lock is free), each returned locked by us
        until ``close``; empty and cheap when nothing crashed."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        out = []
        for name in sorted(names):
            if not name.endswith(".lock"):
                continue
            path = self.dir / name
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # its owner still runs
                continue
            try:
                data = json.loads(path.with_suffix(".json").read_bytes())
            except (OSError, ValueError):
                data = {}  # died before its first note: nothing was changed yet
            out.append(Intent(path, fd, data if isinstance(data, dict) else {}))
        return out

    def close(self, it: Intent) -> None:
        """An abandoned intent is dealt with: forget it."""
        for p in (it.path.with_suffix(".json"), it.path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        os.close(it.fd)

    def protected(self) -> set[str]:
        """Layers running operations made and still need (``keep``): not garbage yet."""
        out: set[str] = set()
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.dir):
                if name.endswith(".json") and name[:-5] not in self.recovering:
                    with contextlib.suppress(OSError, ValueError, TypeError):
                        out.update(json.loads((self.dir / name).read_bytes()).get("keep", []))
        return out

    def pending(self) -> bool:
        """Anything to recover: an intent or trash left behind (one or two listdirs)."""
        for d in (self.dir, self.trash_dir):
            with contextlib.suppress(FileNotFoundError):
                if os.listdir(d):
                    return True
        return False

    # -- trash ------------------------------------------------------------------------
    def discard(self, path: Path) -> None:
        discard(self.trash_dir.parent, path)

    def empty_trash(self) -> int:
        """Delete whatever a crash left in the trash; how many entries."""
        try:
            names = os.listdir(self.trash_dir)
        except FileNotFoundError:
            return 0
        for name in names:
            with contextlib.suppress(OSError):
                remove_tree(self.trash_dir / name)
        return len(names)
