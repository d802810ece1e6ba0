"""``build`` with bad input (issue 3, item 6): Docker's message and exit code, no tag pointing
at a half-built image, and the failed build's intermediates left to inspect, as Docker's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import Docker
from test_build import context

GOOD = "FROM busybox\nRUN echo good > /good\n"
# (Dockerfile, message on stderr, exit code). Errors found before the first step carry
# Docker's "Error response from daemon:" prefix; errors during the build do not.
CASES = {
    "unknown-instruction": (
        "FROM busybox\nRUN true\nFOO bar\n",
        "Error response from daemon: dockerfile parse error on line 3: unknown instruction: FOO",
        1),
    "misspelt-instruction": (
        "FROM busybox\nCOPPY a b\n",
        "Error response from daemon: dockerfile parse error on line 2: unknown instruction: "
        "COPPY (did you mean copy?)", 1),
    "missing-copy-source": (
        "FROM busybox\nCOPY missing.txt /x\n",
        "COPY failed: file not found in build context or excluded by .dockerignore: stat "
        "missing.txt: file does not exist", 1),
    "ignored-copy-source": (
        "FROM busybox\nCOPY secret.key /x\n",
        "COPY failed: file not found in build context or excluded by .dockerignore: stat "
        "secret.key: file does not exist", 1),
    "glob-matches-nothing": (
        "FROM busybox\nCOPY *.nothing /x/\n", "COPY failed: no source files were specified", 1),
    "escape-by-dotdot": (
        "FROM busybox\nCOPY ../outside.txt /x\n",
        "COPY failed: forbidden path outside the build context: ../outside.txt ()", 1),
    "escape-by-symlink": (
        "FROM busybox\nCOPY link /x\n",
        "COPY failed: forbidden path outside the build context: link ({outside})", 1),
    "failing-run": (
        "FROM busybox\nENV A=1\nRUN false\n",
        "The command '/bin/sh -c false' returned a non-zero code: 1", 1),
    "failing-run-exit-code": (
        "FROM busybox\nRUN echo partial > /p && exit 7\n",
        "The command '/bin/sh -c echo partial > /p && exit 7' returned a non-zero code: 7", 7),
    "missing-stage-in-copy-from": (
        "FROM busybox AS builder\nRUN true\nFROM busybox\nCOPY --from=buidler /a /b\n",
        "invalid from flag value buidler: no build stage of that name before this one (stages "
        "so far: builder), and no such image: cannot pull buidler:latest", 1),
    "several-sources-no-slash": (
        "FROM busybox\nCOPY a.txt b.txt /dir\n",
        "When using COPY with more than one source file, the destination must be a directory "
        "and end with a /", 1),
    "add-url-offline": (
        "FROM busybox\nADD https://example.com/app.tar.gz /opt/\n",
        "ADD failed: cannot fetch https://example.com/app.tar.gz: LayerLab builds offline", 1),
    "bad-variable": (
        "FROM busybox\nENV A=${B\n", 'failed to process "${B": syntax error: missing \'}\'', 1),
    "no-from": (
        "RUN true\n",
        "Error response from daemon: dockerfile parse error on line 1: no build stage in "
        "current context", 1),
    "unterminated-heredoc": (
        "FROM busybox\nRUN <<EOF\necho\n",
        "Error response from daemon: dockerfile parse error on line 2: unterminated heredoc", 1),
    "buildkit-only-flag": (
        "FROM busybox\nRUN --mount=type=cache,target=/c true\n",
        "the --mount option requires BuildKit", 1),
}


@pytest.fixture
def bad_context(tmp_path: Path) -> Path:
    ctx = context(tmp_path, {"a.txt": "a", "b.txt": "b", "secret.key": "s",
                             ".dockerignore": "secret.key\n"})
    (tmp_path / "outside.txt").write_text("outside the context\n")
    os.symlink(tmp_path / "outside.txt", ctx / "link")
    return ctx


@pytest.mark.parametrize("driver", ["overlay"])
@pytest.mark.parametrize("case", CASES)
def test_bad_input(docker: Docker, bad_context: Path, tmp_path: Path, case: str) -> None:
    dockerfile, message, code = CASES[case]
    (bad_context / "Dockerfile").write_text(dockerfile)
    images_before = docker.out("images", "-aq").split()
    p = docker("build", "-t", "broken:1", str(bad_context), check=False)
    assert p.returncode == code, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith(message.replace("{outside}", str(tmp_path / "outside.txt"))), \
        p.stderr
    assert "Traceback" not in p.stderr
    assert "Successfully" not in p.stdout
    assert docker("inspect", "broken:1", check=False).returncode == 1  # no half-built tag
    if not message.startswith("Error response from daemon"):
        assert p.stdout.startswith("Step 1/")  # it failed during the build, not before
    else:
        assert p.stdout == "" and docker.out("images", "-aq").split() == images_before


@pytest.mark.parametrize("driver", ["overlay"])
def test_failed_build_leaves_intermediates_to_inspect(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": GOOD})
    docker("build", "-t", "app:1", str(ctx))
    good = json.loads(docker.out("inspect", "app:1"))[0]["Id"]
    (ctx / "Dockerfile").write_text("FROM busybox\nENV STAGE=2\n"
                                    "RUN echo half > /half && echo oops >&2 && exit 3\n")
    p = docker("build", "-t", "app:1", str(ctx), check=False)
    assert p.returncode == 3
    assert json.loads(docker.out("inspect", "app:1"))[0]["Id"] == good  # tag unmoved
    assert "oops" in p.stdout  # the RUN's stderr is streamed with its stdout
    # The ENV step's image is there, untagged, as `images` shows Docker's dangling <none>
    env_step = p.stdout.split("Step 2/3 : ENV STAGE=2\n ---> ")[1].split("\n")[0]
    assert docker.out("images", "--filter", "dangling=true", "-q") == env_step
    assert json.loads(docker.out("inspect", env_step))[0]["Config"]["Env"][-1] == "STAGE=2"
    # ... and the failed RUN's container, exited with the code, its output in its logs
    run_id = p.stdout.split(" ---> Running in ")[1].split("\n")[0]
    assert docker.out("ps", "-a", "--filter", "status=exited", "--format",
                      "{{.ID}} {{.Status}}").startswith(f"{run_id} Exited (3)")
    assert docker.out("diff", run_id) == "A /half"
    assert docker("logs", run_id).stderr == "oops\n"


@pytest.mark.parametrize("driver", ["overlay"])
def test_quiet_failure_shows_the_build_output(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo before-failing; false\n"})
    p = docker("build", "-q", str(ctx), check=False)
    assert p.returncode == 1 and p.stdout == ""
    assert "before-failing" in p.stderr and p.stderr.strip().endswith("non-zero code: 1")


@pytest.mark.parametrize("driver", ["overlay"])
@pytest.mark.parametrize(("args", "message", "code"), [
    (["--target", "nope"],
     "Error response from daemon: failed to reach build target nope in Dockerfile", 1),
    (["-t", "Bad:Tag"], 'invalid argument "Bad:Tag" for "-t, --tag" flag: invalid reference '
                        "format", 125),
    (["-f", "/nonexistent/Dockerfile"], "unable to prepare context: unable to evaluate "
                                        "symlinks in Dockerfile path: lstat "
                                        "/nonexistent/Dockerfile", 1),
])
def test_bad_command_line(docker: Docker, tmp_path: Path, args: list[str], message: str,
                          code: int) -> None:
    ctx = context(tmp_path, {"Dockerfile": GOOD})
    p = docker("build", *args, str(ctx), check=False)
    assert p.returncode == code
    assert p.stderr.startswith(message), p.stderr
    missing = docker("build", str(tmp_path / "nowhere"), check=False)
    assert (missing.returncode, missing.stderr.strip()) == (
        1, f'unable to prepare context: path "{tmp_path / "nowhere"}" not found')
