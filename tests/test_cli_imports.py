"""The CLI imports what its command needs (issue 12: a CLI that starts fast): ``version``
loads no engine, ``ps`` no container runtime, network plumbing or archive code, which are
what ``run``, ``start`` and ``save`` load. Each command runs in a fresh interpreter, as the
``layerlab`` console script does, and reports the modules it ended with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

_PROBE = """
import json, sys
from layerlab.engine import cli
code = cli.main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def _modules_after(tmp_path: Path, *argv: str) -> set[str]:
    report = tmp_path / "modules.json"
    env = {**os.environ, "LAYERLAB_ROOT": str(tmp_path / "root")}
    subprocess.run([sys.executable, "-c", _PROBE, str(report), *argv], env=env, check=True,
                   capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    result = json.loads(report.read_text())
    assert result["code"] == 0, result["code"]
    return set(result["modules"])


def test_version_and_ps_import_only_what_they_use(tmp_path: Path) -> None:
    version = _modules_after(tmp_path, "version")
    assert "layerlab.engine.commands.handlers.system" in version  # the handler did run
    engine = sorted(m for m in version if m.startswith((
        "layerlab.engine.services", "layerlab.engine.store", "layerlab.engine.runtime",
        "layerlab.engine.network", "layerlab.engine.snapshot")))
    assert engine == []

    ps = _modules_after(tmp_path, "ps", "-a")
    assert "layerlab.engine.services.containers" in ps  # it did list the store's containers
    start_path = {"layerlab.engine.services.tasks", "layerlab.engine.runtime.monitor",
                  "layerlab.engine.runtime.init", "layerlab.engine.runtime.seccomp",
                  "layerlab.engine.network.session", "layerlab.engine.oci.layertar",
                  "tarfile", "subprocess", "socket", "setproctitle"}
    assert sorted(start_path & ps) == []


def test_the_warm_clients_path_loads_no_library(tmp_path: Path) -> None:
    """What runs before a served command: the ``layerlab`` script's module and the
    client, asking a server (there is none in this directory, so it starts one: stopped
    here). None of ``re``, ``enum``, ``typing``, ``socket`` or ``signal`` (each of which
    costs more than the rest of the client on this VM)."""
    probe = ("import sys\n"
             "site = set(sys.modules)\n"  # what the interpreter's start loaded (a venv's
             "from layerlab.engine import cli\n"  # editable-install finder loads re)
             "from layerlab.engine.cliserver import client\n"
             "client.forward(['version'])\n"
             "added = sorted(set(sys.modules) - site)\n"
             "import json\n"
             "json.dump(added, open(sys.argv[1], 'w'))\n")
    report = tmp_path / "modules.json"
    servers = tmp_path / "servers"
    env = {**os.environ, "LAYERLAB_CLI_SERVER_DIR": str(servers)}
    try:
        subprocess.run([sys.executable, "-c", probe, str(report)], env=env, check=True,
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        from layerlab.engine.cliserver import server as cliserver

        for _ in range(600):  # the server it started: stopped once it is up
            if any(servers.glob("*.sock")):
                break
            time.sleep(0.05)
        cliserver.stop(str(servers))
    loaded = set(json.loads(report.read_text()))
    assert "layerlab.engine.cliserver.client" in loaded
    assert sorted(loaded & {"re", "enum", "typing", "socket", "signal", "pathlib",
                            "dataclasses", "argparse"}) == []
