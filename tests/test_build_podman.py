"""An image built here is a real image elsewhere: saved, loaded by Podman, run there with the
same output; Podman sees the same layers and the same history (issue 3, "Done when")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Docker
from test_archives import podman, podman_store, run_podman
from test_build import context

__all__ = ["podman", "podman_store"]  # fixtures, imported for pytest to find

DOCKERFILE = """\
FROM busybox AS build
WORKDIR /src
COPY greet.sh .
RUN sh greet.sh > /src/greeting
FROM busybox
COPY --from=build /src/greeting /usr/share/greeting
ENV WHO=podman
WORKDIR /app
RUN printf 'echo "$(cat /usr/share/greeting), $WHO: $*"\\n' > /app/run.sh
ENTRYPOINT ["sh", "/app/run.sh"]
CMD ["default"]
"""
REF = "localhost/layerlab-built:1"


@pytest.mark.parametrize("driver", ["overlay"])
def test_podman_runs_an_image_built_here(docker: Docker, podman_store: list[str],
                                         tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": DOCKERFILE,
                             "greet.sh": "echo hello from $(pwd)\n"})
    docker("build", "-t", REF, str(ctx))
    ours = docker.out("run", "--rm", REF)
    assert ours == "hello from /src, podman: default"
    archive = tmp_path / "built.tar"
    docker("save", "-o", str(archive), REF)

    assert REF in run_podman(podman_store, "load", "-i", str(archive))
    theirs = run_podman(podman_store, "run", "--rm", "--network", "none", REF).strip()
    assert theirs == ours
    args = run_podman(podman_store, "run", "--rm", "--network", "none", REF, "a", "b").strip()
    assert args == docker.out("run", "--rm", REF, "a", "b") == "hello from /src, podman: a b"

    mine = json.loads(docker.out("inspect", REF))[0]
    seen = json.loads(run_podman(podman_store, "image", "inspect", REF))[0]
    assert seen["Id"] == mine["Id"][7:]
    assert seen["RootFS"]["Layers"] == mine["RootFS"]["Layers"]
    assert seen["Config"]["Entrypoint"] == ["sh", "/app/run.sh"]
    assert seen["Config"]["WorkingDir"] == "/app"
    created_by = [h["created_by"] for h in seen["History"]]
    assert created_by[-4:] == [
        "/bin/sh -c #(nop) WORKDIR /app",
        "/bin/sh -c printf 'echo \"$(cat /usr/share/greeting), $WHO: $*\"\\n' > /app/run.sh",
        '/bin/sh -c #(nop)  ENTRYPOINT ["sh" "/app/run.sh"]',
        '/bin/sh -c #(nop)  CMD ["default"]']
    ours_history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}",
                          REF).stdout.split("\n")[:-1]
    assert created_by[::-1] == ours_history
