"""The Binder path: no root. Installed where nobody can read it (a fresh clone under /root
works too: the kit copies the tree), uid 65534 under no_new_privs.

* ``info`` says which mode was probed and what each probe found;
* with no mode that can run containers (``LAYERLAB_RUNTIME=none``) image, layer and
  archive commands work, ``run``/``start`` refuse *before* creating anything, and
  ``commit`` of a container that never ran warns that its layer is empty;
* nothing of the user is left after a session (``kit.session`` checks it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import unprivileged_kit as kit
from conftest import needs_root

pytestmark = needs_root


@pytest.fixture
def none_mode(nobody_python: Path) -> Iterator[kit.Nobody]:
    with kit.session(nobody_python, LAYERLAB_RUNTIME="none") as n:
        yield n


def test_info_names_the_mode_and_every_probe(nobody_python: Path) -> None:
    with kit.session(nobody_python) as n:
        info = json.loads(n.docker("info", "--format", "{{json .}}").stdout)
        probes = {p["Mode"]: p for p in info["IsolationProbes"]}
        assert list(probes) == ["root", "rootless", "proot", "none"]
        assert not probes["root"]["Works"] and "not running as root" in probes["root"]["Found"]
        best = next(mode for mode, p in probes.items() if p["Works"])
        assert info["Isolation"] == best  # best first: rootless on this host
        assert info["DockerRootDir"] == str(n.store)
        text = n.docker("info").stdout
        assert f" Isolation: {best}" in text and "  Probes:" in text
        if best == "rootless":
            assert info["Pause"] == "sigstop" and "SIGSTOP" in text
        cache = n.store / "isolation.json"  # no $XDG_RUNTIME_DIR here: kept in the store
        assert json.loads(cache.read_text())["key"]["uid"] == kit.NOBODY


def test_forced_mode_that_cannot_work_says_why(nobody_python: Path) -> None:
    with kit.session(nobody_python, LAYERLAB_RUNTIME="root") as n:
        p = n.docker("run", "--rm", "busybox", "true", check=False)
        assert p.returncode == 125
        assert "LAYERLAB_RUNTIME=root cannot work here: not running as root" in p.stderr
        assert n.docker("ps", "-aq").stdout == ""  # nothing was created
        p = n.docker("info", check=False)
        assert p.returncode == 0 and "Isolation: none" in p.stdout


def test_no_mode_image_commands_work_and_run_refuses_first(none_mode: kit.Nobody) -> None:
    n = none_mode
    info = n.docker("info").stdout
    assert "Storage Driver: vfs" in info and "Isolation: none" in info
    n.docker("pull", "busybox")
    assert (n.home / ".local/share/layerlab").is_dir()  # $XDG_DATA_HOME/layerlab
    assert "busybox" in n.docker("images").stdout
    p = n.docker("run", "--rm", "busybox", "echo", "hi", check=False)
    assert p.returncode == 125
    assert "cannot start containers here: forced by LAYERLAB_RUNTIME=none" in p.stderr
    assert p.stderr.count("\n") == 1
    assert n.docker("ps", "-a", "-q").stdout == ""  # refused before creating anything
    cid = n.docker("create", "--name", "box", "busybox", "echo", "hi").stdout.strip()
    assert len(cid) == 64
    p = n.docker("start", "box", check=False)
    assert p.returncode == 1 and "cannot start containers here" in p.stderr
    p = n.docker("commit", "-c", "CMD echo hi", "box", "mine:1")
    assert "WARNING: container box never ran: its layer is empty" in p.stderr
    assert len(n.docker("history", "-q", "mine:1").stdout.split()) == 3
    n.docker("save", "-o", str(n.home / "mine.tar"), "mine:1")
    n.docker("rmi", "mine:1")
    assert "Loaded image: mine:1" in n.docker("load", "-i", str(n.home / "mine.tar")).stdout
    n.docker("export", "-o", str(n.home / "flat.tar"), "box")
    image_id = n.docker("import", str(n.home / "flat.tar"), "flat:1").stdout.strip()
    assert image_id.startswith("sha256:")
    assert n.docker("diff", "box").stdout == ""
    n.docker("rm", "box")
    assert n.docker("ps", "-a", "-q").stdout == ""


def test_no_mode_build_copies_and_run_step_explains(none_mode: kit.Nobody) -> None:
    n = none_mode
    ctx = n.top / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("hi\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY --chown=100:101 f /f\nWORKDIR /app\n")
    for path in (ctx, *ctx.rglob("*")):
        path.chmod(0o755)
    out = n.docker("build", "-t", "u", str(ctx)).stdout
    assert out.endswith("Successfully tagged u:latest\n")
    n.docker("save", "-o", str(n.home / "u.tar"), "u")
    (ctx / "Dockerfile").write_text("FROM u\nRUN echo x\n")
    p = n.docker("build", str(ctx), check=False)
    assert p.returncode == 1 and "cannot start containers here" in p.stderr
