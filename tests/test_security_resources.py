"""Bounded resources (issue 11): ``logs --tail`` reads from the end in constant memory, and
no compressed input expands past the decompression limit."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from conftest import run_cmd
from layerlab.engine.errors import InvalidArgument
from layerlab.engine.oci.compression import decompressed
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer import archive
from layerlab.engine.transfer.bootstrap import bootstrap
from test_archives import store_listing


@pytest.fixture
def vfs_engine(tmp_path: Path) -> Engine:
    e = Engine(tmp_path / "root", "vfs")
    bootstrap(e)
    return e


def test_logs_tail_reads_from_the_end(vfs_engine: Engine, tmp_path: Path) -> None:
    out = run_cmd(vfs_engine, "create", "--name", "chatty", "busybox", "true")[1]
    log = vfs_engine.store.containers.dir(out.strip()) / "container.log"
    record = {"log": "x" * 200 + "\n", "stream": "stdout", "time": "2026-01-01T00:00:00Z"}
    line = json.dumps(record).encode() + b"\n"
    with log.open("wb") as f:
        for i in range(100_000):  # ~22 MB, ten thousand times what three lines need
            f.write(line if i < 99_997 else json.dumps({**record, "log": f"last {i}\n"})
                    .encode() + b"\n")
    class Sink(io.BytesIO):
        def fileno(self) -> int:
            raise OSError

    from layerlab.engine.commands import IO, execute

    sink = Sink()
    tracemalloc.start()
    try:
        with open("/dev/null", "rb") as stdin:
            execute(vfs_engine, ["logs", "-n", "3", "chatty"], IO(stdin, sink, sink))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.getvalue() == b"last 99997\nlast 99998\nlast 99999\n"
    assert peak < 2 << 20, f"logs -n 3 held {peak} bytes"


def bomb(size: int) -> bytes:
    """A gzip'd tar holding one file of ``size`` zero bytes (about 1000:1)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        ti = tarfile.TarInfo("zeros")
        ti.size = size

        class Zeros(io.RawIOBase):
            left = size

            def readable(self) -> bool:
                return True

            def readinto(self, b):  # type: ignore[no-untyped-def]
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n

        tf.addfile(ti, io.BufferedReader(Zeros()))
    return gzip.compress(raw.getvalue(), compresslevel=9)


def test_decompression_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_MAX_DECOMPRESSED", "4M")
    data = bomb(8 << 20)
    assert len(data) < 16 << 10
    stream = decompressed(io.BytesIO(data), "bomb")
    with pytest.raises(InvalidArgument, match="expands past 4194304 bytes"):
        while stream.read(1 << 20):
            pass


@pytest.mark.parametrize("how", ["load", "import"])
def test_bombs_leave_the_store_as_it_was(vfs_engine: Engine, how: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_MAX_DECOMPRESSED", "4M")
    before = store_listing(vfs_engine.root)
    with pytest.raises(InvalidArgument) as err:
        if how == "load":
            archive.load(vfs_engine, io.BytesIO(bomb(8 << 20)))
        else:
            vfs_engine.images.import_tar(io.BytesIO(bomb(8 << 20)), "bomb:1")
    assert "decompression bomb" in str(err.value) and "\n" not in str(err.value)
    assert store_listing(vfs_engine.root) == before
    assert not [p for p in (vfs_engine.root / "blobs" / "sha256").iterdir()
                if p.name.startswith(".")]
