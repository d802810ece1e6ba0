"""Walking and removing directory trees by file descriptor, never by host path.

Trees here are untrusted (an image's layer, a container's read-write layer while the
container runs) and may be deep (1,200 levels is past Python's recursion limit and past
``PATH_MAX`` for long names). So:

- every step opens the next directory relative to the current one with ``O_NOFOLLOW``:
  a directory swapped for a symlink is refused by the kernel, never followed;
- nothing recurses: pending names are kept per level, the walk goes up through ``..``
  and checks that it arrived where it came from (device and inode), so at most two
  directory descriptors are open whatever the depth;
- paths are only ever relative to the tree's root.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeChanged(OSError):
    """The tree was rearranged under the walk (a directory moved away meanwhile)."""


def identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def lstat_at(dir_fd: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def open_dir_at(dir_fd: int, name: str) -> int:
    """``name`` below ``dir_fd`` as a readable directory; a symlink there raises (ELOOP or
    ENOTDIR), it is never followed."""
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


@dataclass
class Entry:
    """One entry of a walk: its path relative to the root, the directory it is in (an
    open descriptor, valid until the walk moves on) and its ``lstat``."""

    rel: str
    name: str
    dir_fd: int
    st: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


@dataclass
class _Level:
    rel: str
    ident: tuple[int, int]
    pending: list[str] = field(default_factory=list)


def walk(root_fd: int, sort: bool = True,
         leave_dir: Callable[[str, int], None] | None = None,
         enter: Callable[[Entry], bool] | None = None) -> Iterator[Entry]:
    """Every entry below the directory ``root_fd``, parents before their contents.

    ``enter(entry)`` decides whether to descend into a directory (default: always);
    ``leave_dir(rel, parent_fd)`` runs after a directory's contents are done, with its
    parent open (``remove_tree`` deletes it there). ``root_fd`` stays open and unchanged.
    """
    cur = os.dup(root_fd)
    try:
        root_ident = identity(os.fstat(cur))
        levels = [_Level("", root_ident, _names(cur, sort))]
        while levels:
            level = levels[-1]
            if level.pending:
                name = level.pending.pop()
                rel = f"{level.rel}/{name}" if level.rel else name
                try:
                    st = lstat_at(cur, name)
                except FileNotFoundError:
                    continue  # removed while we walked
                entry = Entry(rel, name, cur, st)
                yield entry
                if not stat.S_ISDIR(st.st_mode) or (enter is not None and not enter(entry)):
                    continue
                try:
                    child = open_dir_at(cur, name)
                except OSError as e:
                    if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                        continue  # replaced meanwhile: nothing below it to walk
                    raise
                child_ident = identity(os.fstat(child))
                os.close(cur)
                cur = child
                levels.append(_Level(rel, child_ident, _names(cur, sort)))
                continue
            levels.pop()
            if not levels:
                break
            parent = os.open("..", DIR_FLAGS & ~os.O_NOFOLLOW, dir_fd=cur)
            os.close(cur)
            cur = parent
            if identity(os.fstat(cur)) != levels[-1].ident:
                raise TreeChanged(errno.ESTALE, "directory moved during the walk",
                                  levels[-1].rel or ".")
            if leave_dir is not None:
                leave_dir(level.rel, cur)
    finally:
        os.close(cur)


class DirChain:
    """Directory descriptors below the root, opened without following symlinks.

    Tar members mostly come in tree order, so the chain of directories of the last member
    is kept open and reused: each member costs one or two ``openat``s, whatever its depth.
    """

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.chain: list[tuple[str, int]] = []  # (name, fd) from the root down

    def close(self) -> None:
        for _, fd in self.chain:
            os.close(fd)
        self.chain = []

    def open(self, rel_dir: str, create: bool,
             replace: Callable[[int, str], bool] | None = None) -> int:
        """The directory ``rel_dir`` ("" = the root). Missing directories are made (0755,
        as Docker makes implied parents) when ``create``; a non-directory in the way is
        passed to ``replace(parent_fd, name)``, which may remove it (True) or refuse."""
        parts = rel_dir.split("/") if rel_dir else []
        keep = 0
        while keep < len(self.chain) and keep < len(parts) and self.chain[keep][0] == parts[keep]:
            keep += 1
        for _, fd in self.chain[keep:]:
            os.close(fd)
        del self.chain[keep:]
        for part in parts[keep:]:
            parent = self.chain[-1][1] if self.chain else self.root_fd
            self.chain.append((part, self._step(parent, part, create, replace)))
        return self.chain[-1][1] if self.chain else self.root_fd

    @staticmethod
    def _step(parent: int, name: str, create: bool,
              replace: Callable[[int, str], bool] | None) -> int:
        for _ in range(4):
            try:
                return open_dir_at(parent, name)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=parent)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                if replace is None or not replace(parent, name):
                    raise
        raise OSError(errno.EAGAIN, "directory keeps changing", name)

    def forget(self, rel: str) -> None:
        """``rel`` was removed: drop it (and what is below it) from the open chain."""
        parts = rel.split("/")
        if [n for n, _ in self.chain[: len(parts)]] == parts:
            for _, fd in self.chain[len(parts) - 1:]:
                os.close(fd)
            del self.chain[len(parts) - 1:]


def _names(dir_fd: int, sort: bool) -> list[str]:
    """A directory's names, reversed so that ``pop()`` yields them in order."""
    names = os.listdir(dir_fd)
    if sort:
        names.sort(reverse=True)
    return names


def _writable(dir_fd: int) -> None:
    """An unprivileged owner cannot delete from a read-only directory it made: open it up."""
    os.fchmod(dir_fd, 0o700)


def _unlink_at(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except PermissionError:
        _writable(dir_fd)
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _rmdir_at(dir_fd: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except PermissionError:
        _writable(dir_fd)
        os.rmdir(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def clear_at(dir_fd: int, name: str, own_parent: bool = True) -> None:
    """Remove whatever ``name`` is below ``dir_fd`` (a whole directory tree included),
    without following any symlink and without recursion. ``own_parent=False``: the
    directory ``dir_fd`` is not ours (the one holding a tree being removed), so its mode is
    never touched to make the removal work."""
    unlink, rmdir = (_unlink_at, _rmdir_at) if own_parent else (_unlink_plain, _rmdir_plain)
    try:
        st = lstat_at(dir_fd, name)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        unlink(dir_fd, name)
        return
    try:
        top = open_dir_at(dir_fd, name)
    except PermissionError:  # an unprivileged owner's 0000 directory
        os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
        top = open_dir_at(dir_fd, name)
    try:
        def enter(e: Entry) -> bool:
            if os.geteuid() != 0 and e.st.st_mode & stat.S_IRWXU != stat.S_IRWXU:
                os.chmod(e.name, 0o700, dir_fd=e.dir_fd, follow_symlinks=False)
            return True

        def leave(rel: str, parent_fd: int) -> None:
            _rmdir_at(parent_fd, rel.rpartition("/")[2])

        for entry in walk(top, sort=False, leave_dir=leave, enter=enter):
            if not entry.is_dir:
                _unlink_at(entry.dir_fd, entry.name)
    finally:
        os.close(top)
    rmdir(dir_fd, name)


def _unlink_plain(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def _rmdir_plain(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(name, dir_fd=dir_fd)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove the file or directory tree at ``path`` (gone already is fine)."""
    path = os.fspath(path)
    parent, name = os.path.split(os.path.normpath(path))
    try:
        parent_fd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        clear_at(parent_fd, name, own_parent=False)
    finally:
        os.close(parent_fd)


@contextlib.contextmanager
def opened_dir(path: str | os.PathLike[str]) -> Iterator[int]:
    """A directory descriptor for the duration (the one host path a walk starts from)."""
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)
