"""The on-disk cache of compiled seccomp programs: a second process gets the same BPF
without compiling, and a file it cannot trust (someone else's, writable by others,
damaged) is never loaded into a container."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from layerlab.engine.runtime import confine, seccomp, seccomp_cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    seccomp.program_for.cache_clear()
    yield tmp_path / "layerlab" / "seccomp"
    seccomp.program_for.cache_clear()


def test_cached_program_is_the_compiled_one_and_untrusted_files_are_ignored(
        cache: Path) -> None:
    if not seccomp.status().available:
        pytest.skip(str(seccomp.status()))
    kept = confine.Confinement().capabilities()
    text = seccomp.builtin_text()
    compiled = seccomp.compile_program(seccomp.select(seccomp.parse(text), kept))

    assert seccomp.program_for(text, kept) == compiled
    [entry] = cache.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert seccomp_cache.load(entry.name) == (compiled.bpf, compiled.flags, compiled.syscall_nr)

    # a forged program (allow everything) in the cache's place
    forged = seccomp.compile_program(seccomp.Selection(0x7FFF0000, (), ()))
    seccomp_cache.store(entry.name, forged.bpf, forged.flags, forged.syscall_nr)
    assert seccomp_cache.load(entry.name) is not None  # ours, private: trusted
    for spoil in ("group-writable", "foreign", "damaged"):
        seccomp_cache.store(entry.name, forged.bpf, forged.flags, forged.syscall_nr)
        if spoil == "group-writable":
            os.chmod(entry, 0o620)
        elif spoil == "foreign":
            if os.geteuid() != 0:
                continue
            os.chown(entry, 12345, 12345)
        else:
            entry.write_bytes(entry.read_bytes()[:-3])
        assert seccomp_cache.load(entry.name) is None, spoil
        seccomp.program_for.cache_clear()
        assert seccomp.program_for(text, kept) == compiled, spoil
        entry.unlink()
