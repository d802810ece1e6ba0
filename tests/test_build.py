"""``build`` (S16): realistic Dockerfiles on the busybox bootstrap image, through the real CLI.

Each test checks what a user can see: the streamed classic output, the image config, the
layer count, the ``history`` CREATED BY strings (byte for byte as Docker's classic builder
writes them), the intermediate images ``images -a`` lists, and a ``run`` of the result.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from conftest import Docker
from layerlab.engine.commands import IO, execute
from layerlab.engine.commands.results import Build
from layerlab.engine.services.engine import Engine

BUSYBOX_HISTORY = 2  # ADD file:… in / and CMD ["sh"]


def context(tmp_path: Path, files: dict[str, str | bytes], name: str = "ctx") -> Path:
    root = tmp_path / name
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def history(docker: Docker, ref: str) -> list[str]:
    """CREATED BY of every history entry, newest first."""
    return docker.out("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref).split("\n")


def inspect(docker: Docker, ref: str) -> dict[str, Any]:
    return json.loads(docker.out("inspect", "--type", "image", ref))[0]


def steps_output(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("Step ")]


# -- multi-stage, --target, COPY --from ------------------------------------------------------
MULTISTAGE = """\
ARG BASE=busybox
FROM ${BASE} AS builder
WORKDIR /src
COPY main.sh .
RUN sh main.sh > /src/app.out
FROM busybox AS runtime
COPY --from=builder /src/app.out /opt/app.out
CMD ["cat", "/opt/app.out"]
"""


@pytest.mark.unprivileged("rootless", "proot")
def test_multistage_target_and_copy_from(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": MULTISTAGE, "main.sh": "echo built in $(pwd)\n"})
    partial = docker("build", "--target", "builder", "-t", "app:builder", str(ctx)).stdout
    assert steps_output(partial) == [
        "Step 1/5 : ARG BASE=busybox", "Step 2/5 : FROM ${BASE} AS builder",
        "Step 3/5 : WORKDIR /src", "Step 4/5 : COPY main.sh .",
        "Step 5/5 : RUN sh main.sh > /src/app.out"]
    assert inspect(docker, "app:builder")["Config"]["WorkingDir"] == "/src"

    out = docker("build", "-t", "app:1", str(ctx)).stdout
    assert steps_output(out)[-1] == 'Step 8/8 : CMD ["cat", "/opt/app.out"]'
    assert out.count(" ---> Using cache") == 3  # the builder stage, built just before
    assert docker.out("run", "--rm", "app:1") == "built in /src"

    img = inspect(docker, "app:1")
    busybox = inspect(docker, "busybox")
    assert img["RootFS"]["Layers"][:1] == busybox["RootFS"]["Layers"]
    assert len(img["RootFS"]["Layers"]) == 2  # busybox + COPY --from
    assert history(docker, "app:1")[:2] == [
        '/bin/sh -c #(nop)  CMD ["cat" "/opt/app.out"]',
        f"/bin/sh -c #(nop) COPY file:{sha('built in /src' + chr(10))} in /opt/app.out "]
    assert len(history(docker, "app:1")) == BUSYBOX_HISTORY + 2

    # every step left an intermediate image, linked to its parent (images -a)
    copy_step = img["Parent"]
    assert inspect(docker, copy_step)["Parent"] == busybox["Id"]
    listed = docker.out("images", "-a", "--no-trunc", "--format", "{{.ID}}").split()
    assert copy_step in listed and copy_step not in docker.out(
        "images", "--no-trunc", "--format", "{{.ID}}").split()
    builder_chain = [inspect(docker, "app:builder")["Id"]]
    while (parent := inspect(docker, builder_chain[-1])["Parent"]) != busybox["Id"]:
        builder_chain.append(parent)
    assert len(builder_chain) == 3  # RUN, COPY, WORKDIR


# -- ARG / ENV substitution ------------------------------------------------------------------
SUBSTITUTION = r"""ARG GREETING=hello
FROM busybox
ARG GREETING
ARG TARGET=world
ENV MESSAGE="${GREETING} ${TARGET}" UNSET=${NOPE:-fallback} ALT=${TARGET:+set} \
    LITERAL=\$TARGET SINGLE='$TARGET' EMPTY=${NOPE}
ENV TARGET=env-wins
RUN echo "$MESSAGE|$TARGET|$GREETING" > /out
LABEL target=$TARGET
WORKDIR /srv/${TARGET}
"""


@pytest.mark.parametrize("driver", ["overlay"])
def test_arg_and_env_substitution(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": SUBSTITUTION})
    out = docker("build", "--build-arg", "TARGET=you", "--build-arg", "UNUSED=1", "-t", "subst",
                 str(ctx)).stdout
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in out
    cfg = inspect(docker, "subst")["Config"]
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert env["MESSAGE"] == "hello you"
    assert (env["UNSET"], env["ALT"], env["LITERAL"], env["SINGLE"], env["EMPTY"]) == (
        "fallback", "set", "$TARGET", "$TARGET", "")
    assert "GREETING" not in env  # build args never persist in the image
    assert cfg["Labels"] == {"target": "env-wins"}
    assert cfg["WorkingDir"] == "/srv/env-wins"
    assert docker.out("run", "--rm", "subst", "cat", "/out") == "hello you|env-wins|hello"
    lines = history(docker, "subst")
    # ENV TARGET wins over the ARG, so only GREETING is a build arg of the RUN
    assert lines[2] == '|1 GREETING=hello /bin/sh -c echo "$MESSAGE|$TARGET|$GREETING" > /out'
    assert lines[3] == "/bin/sh -c #(nop)  ENV TARGET=env-wins"
    assert lines[4] == ("/bin/sh -c #(nop)  ENV MESSAGE=hello you UNSET=fallback ALT=set "
                        "LITERAL=$TARGET SINGLE=$TARGET EMPTY=")
    assert lines[5] == "/bin/sh -c #(nop)  ARG TARGET=world"
    assert lines[6] == "/bin/sh -c #(nop)  ARG GREETING"


@pytest.mark.parametrize("driver", ["overlay"])
def test_arg_scope_is_per_stage(docker: Docker, tmp_path: Path) -> None:
    dockerfile = """\
ARG VERSION=1.0
FROM busybox AS first
ARG LOCAL=first-only
RUN echo "[$VERSION][$LOCAL]" > /seen
FROM first AS second
RUN echo "[$VERSION][$LOCAL]" > /seen2
ARG VERSION
RUN echo "[$VERSION]" > /seen3
"""
    ctx = context(tmp_path, {"Dockerfile": dockerfile})
    docker("build", "--build-arg", "VERSION=2.0", "-t", "scoped", str(ctx))
    seen = docker.out("run", "--rm", "scoped", "cat", "/seen", "/seen2", "/seen3")
    assert seen.split("\n") == ["[][first-only]", "[][]", "[2.0]"]
    assert history(docker, "scoped")[0] == "|1 VERSION=2.0 /bin/sh -c echo \"[$VERSION]\" > /seen3"


# -- WORKDIR, USER, COPY --chown/--chmod ------------------------------------------------------
OWNERSHIP = """\
FROM busybox
RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && \\
    echo 'app:x:1000:' >> /etc/group
WORKDIR /home/app
COPY --chown=app:app config.txt ./
COPY --chown=1234:5678 --chmod=750 run.sh bin/
WORKDIR /tmp
USER app
WORKDIR data
RUN id -u > /tmp/whoami
"""


def saved_owners(docker: Docker, ref: str, out: Path) -> dict[str, str]:
    """``uid:gid mode`` of every path in the image's layers (the topmost wins)."""
    docker("save", "-o", str(out), ref)
    seen: dict[str, str] = {}
    with tarfile.open(out) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=tf.extractfile(name)) as layer:
                for m in layer.getmembers():
                    seen["/" + m.name.rstrip("/")] = f"{m.uid}:{m.gid} {m.mode & 0o7777:o}"
    return seen


@pytest.mark.unprivileged("rootless")
def test_workdir_user_and_copy_chown(docker: Docker, tmp_path: Path, isolation: str) -> None:
    ctx = context(tmp_path, {"Dockerfile": OWNERSHIP, "config.txt": "key=value\n",
                             "run.sh": "echo run\n"})
    (ctx / "config.txt").chmod(0o644)
    docker("build", "-t", "owned", str(ctx))
    cfg = inspect(docker, "owned")["Config"]
    assert (cfg["User"], cfg["WorkingDir"]) == ("app", "/tmp/data")
    paths = ["/home/app/config.txt", "/home/app/bin/run.sh", "/home/app/bin", "/tmp/data",
             "/home/app"]
    expected = ["1000:1000 644", "1234:5678 750", "1234:5678 755", "0:0 755", "0:0 755"]
    stats = docker.out("run", "--rm", "-u", "0", "owned", "stat", "-c", "%u:%g %a %n", *paths)
    if isolation == "rootless":  # one uid mapped: inside, other owners show as root (said
        # in info); the layers still record them, as a root build does
        assert stats.split("\n") == [f"0:0 {e.split()[1]} {p}"
                                     for e, p in zip(expected, paths, strict=True)]
        layers = saved_owners(docker, "owned", tmp_path / "owned.tar")
        assert [layers[p] for p in paths] == expected
    else:
        assert stats.split("\n") == [f"{e} {p}" for e, p in zip(expected, paths, strict=True)]
    assert docker.out("run", "--rm", "owned", "sh", "-c", "id -u; pwd; cat /tmp/whoami") == \
        "1000\n/tmp/data\n1000"
    lines = history(docker, "owned")
    assert lines[:6] == [
        "/bin/sh -c id -u > /tmp/whoami",
        "/bin/sh -c #(nop) WORKDIR /tmp/data",
        "/bin/sh -c #(nop)  USER app",
        "/bin/sh -c #(nop) WORKDIR /tmp",
        f"/bin/sh -c #(nop) COPY --chown=1234:5678--chmod=750 file:{sha('echo run' + chr(10))}"
        " in bin/ ",
        f"/bin/sh -c #(nop) COPY --chown=app:appfile:{sha('key=value' + chr(10))} in ./ "]
    rows = json.loads(docker.out("inspect", "owned"))[0]
    # layers: busybox, RUN, WORKDIR /home/app, 2 COPY, WORKDIR data, RUN; /tmp existed
    assert len(rows["RootFS"]["Layers"]) == 7
    empty = docker.out("history", "--format", "{{.CreatedBy}}|{{.Size}}", "owned").split("\n")
    assert "/bin/sh -c #(nop) WORKDIR /tmp|0B" in empty


# -- .dockerignore ---------------------------------------------------------------------------
def test_dockerignore(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort > /listing\n",
        ".dockerignore": "# build junk\nnode_modules\n**/*_test.go\n*.md\n!README.md\n"
                         "/secret.key\ntmp/\n",
        "README.md": "r", "notes.md": "n", "secret.key": "s", "src/a.go": "a",
        "src/sub/b.go": "b", "src/sub/b_test.go": "t", "src/sub/keep.md": "k",
        "node_modules/x/m.js": "m", "tmp/junk": "j"})
    docker("build", "-t", "ignored", str(ctx))
    listing = docker.out("run", "--rm", "ignored", "cat", "/listing").split("\n")
    assert listing == ["/ctx", "/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/README.md",
                       "/ctx/src", "/ctx/src/a.go", "/ctx/src/sub", "/ctx/src/sub/b.go",
                       "/ctx/src/sub/keep.md"]


# -- heredocs --------------------------------------------------------------------------------
HEREDOCS = """\
FROM busybox
RUN <<EOF
echo one > /h1
echo two >> /h1
EOF
RUN <<EOF
#!/bin/sh -e
echo "script as $(id -u)" > /h2
EOF
RUN cat <<EOT > /h3
expanded by the shell: $HOME
EOT
RUN <<-EOF
\techo tabs stripped > /h4
\tEOF
ARG V=value
COPY <<EOF /h5
arg is ${V}, "quotes" stay
EOF
COPY <<"EOF" /h6
kept: ${V}
EOF
"""


def test_heredocs(docker: Docker, engine: Engine, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": HEREDOCS})
    out = docker("build", "-t", "here", str(ctx)).stdout
    assert "Step 2/8 : RUN <<EOF" in out
    shown = docker.out("run", "--rm", "here", "cat", "/h1", "/h2", "/h3", "/h4", "/h5", "/h6")
    assert shown.split("\n") == ["one", "two", "script as 0", "expanded by the shell: /root",
                                 "tabs stripped", 'arg is value, "quotes" stay', "kept: ${V}"]
    assert "layerlab-heredoc" not in docker.out("run", "--rm", "here", "ls", "-a", "/")
    assert engine.images.get("here").history[BUSYBOX_HISTORY]["created_by"] == \
        "/bin/sh -c <<EOF\necho one > /h1\necho two >> /h1\nEOF\n"


# -- ENTRYPOINT and CMD ----------------------------------------------------------------------
@pytest.mark.parametrize("driver", ["overlay"])
@pytest.mark.parametrize(("body", "entrypoint", "cmd", "default", "with_args"), [
    ('ENTRYPOINT ["echo", "ep"]\nCMD ["default"]', ["echo", "ep"], ["default"],
     "ep default", "ep x y"),
    ('CMD ["default"]\nENTRYPOINT ["echo", "ep"]', ["echo", "ep"], ["default"],
     "ep default", "ep x y"),
    ('ENTRYPOINT ["echo", "ep"]', ["echo", "ep"], None, "ep", "ep x y"),
    ("ENTRYPOINT echo shell-ep\nCMD [\"ignored\"]", ["/bin/sh", "-c", "echo shell-ep"],
     ["ignored"], "shell-ep", "shell-ep"),
    ('SHELL ["/bin/sh", "-ec"]\nCMD echo shell-cmd $0', None,
     ["/bin/sh", "-ec", "echo shell-cmd $0"], "shell-cmd /bin/sh", 'exec: "x"'),
    ('CMD ["echo", "only-cmd"]', None, ["echo", "only-cmd"], "only-cmd", 'exec: "x"'),
])
def test_entrypoint_and_cmd(docker: Docker, tmp_path: Path, body: str,
                            entrypoint: list[str] | None, cmd: list[str] | None,
                            default: str, with_args: str) -> None:
    ctx = context(tmp_path, {"Dockerfile": f"FROM busybox\n{body}\n"})
    docker("build", "-t", "ep", str(ctx))
    cfg = inspect(docker, "ep")["Config"]
    assert (cfg.get("Entrypoint"), cfg.get("Cmd")) == (entrypoint, cmd)
    assert docker.out("run", "--rm", "ep") == default
    ran = docker("run", "--rm", "ep", "x", "y", check=False)
    assert with_args in (ran.stdout + ran.stderr)


@pytest.mark.parametrize("driver", ["overlay"])
def test_shell_changes_run_and_history(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": 'FROM busybox\nSHELL ["/bin/sh", "-xc"]\n'
                                           "RUN echo traced\nCMD cat /etc/hostname\n"})
    out = docker("build", "-t", "sh", str(ctx)).stdout
    assert "+ echo traced" in out
    assert history(docker, "sh")[:3] == [
        '/bin/sh -xc #(nop)  CMD ["/bin/sh" "-xc" "cat /etc/hostname"]',
        "/bin/sh -xc echo traced",
        "/bin/sh -xc #(nop)  SHELL [/bin/sh -xc]"]


# -- metadata instructions -------------------------------------------------------------------
METADATA = """\
FROM busybox
MAINTAINER Ada <ada@example.com>
LABEL org.opencontainers.image.title="demo app" version=1
EXPOSE 8080 53/udp 9000-9001
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
USER nobody
ONBUILD RUN echo triggered > /triggered
"""


@pytest.mark.parametrize("driver", ["overlay"])
def test_metadata_instructions(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": METADATA})
    out = docker("build", "-t", "meta", str(ctx)).stdout
    assert "Running in" not in out  # no step here runs a container
    img = inspect(docker, "meta")
    assert img["Author"] == "Ada <ada@example.com>"
    assert len(img["RootFS"]["Layers"]) == 1  # metadata steps add no layer
    cfg = img["Config"]
    assert cfg["Labels"] == {"org.opencontainers.image.title": "demo app", "version": "1"}
    assert sorted(cfg["ExposedPorts"]) == ["53/udp", "8080/tcp", "9000/tcp", "9001/tcp"]
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}}
    assert (cfg["StopSignal"], cfg["User"]) == ("SIGINT", "nobody")
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"],
        "Interval": 300_000_000_000, "Timeout": 3_000_000_000, "Retries": 3}
    assert cfg["OnBuild"] == ["RUN echo triggered > /triggered"]
    assert history(docker, "meta")[:8] == [
        "/bin/sh -c #(nop)  ONBUILD RUN echo triggered > /triggered",
        "/bin/sh -c #(nop)  USER nobody",
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q -O- http://localhost/ || '
        'exit 1"] "5m0s" "3s" "0s" "0s" \'\\x03\'}',
        "/bin/sh -c #(nop)  STOPSIGNAL SIGINT",
        "/bin/sh -c #(nop)  VOLUME [/data /logs]",
        "/bin/sh -c #(nop)  EXPOSE 8080 53/udp 9000-9001",
        "/bin/sh -c #(nop)  LABEL org.opencontainers.image.title=demo app version=1",
        "/bin/sh -c #(nop)  MAINTAINER Ada <ada@example.com>"]
    sizes = docker.out("history", "--format", "{{.Size}}", "meta").split("\n")
    assert sizes[:8] == ["0B"] * 8


def test_onbuild_triggers_run_in_the_child_build(docker: Docker, tmp_path: Path) -> None:
    parent = context(tmp_path, {"Dockerfile": "FROM busybox\nONBUILD COPY app.txt /app/\n"
                                              "ONBUILD RUN cat /app/app.txt > /app/seen\n"},
                     "parent")
    docker("build", "-t", "base:onbuild", str(parent))
    child = context(tmp_path, {"Dockerfile": "FROM base:onbuild\nCMD [\"cat\", \"/app/seen\"]\n",
                               "app.txt": "from the child's context\n"}, "child")
    out = docker("build", "-t", "child", str(child)).stdout
    assert "# Executing 2 build triggers" in out
    assert docker.out("run", "--rm", "child") == "from the child's context"
    assert inspect(docker, "child")["Config"].get("OnBuild") is None  # triggers fire once
    assert history(docker, "child")[1] == "/bin/sh -c cat /app/app.txt > /app/seen"


# -- ADD -------------------------------------------------------------------------------------
def test_add_extracts_local_tars(docker: Docker, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("pkg/bin/tool", b"#!/bin/sh\necho tool\n"), ("pkg/README", b"r\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o755
            tf.addfile(ti, io.BytesIO(data))
    ctx = context(tmp_path, {"Dockerfile": "FROM busybox\nADD pkg.tar.gz /opt/\n"
                                           "ADD plain.txt /opt/plain.txt\n",
                             "pkg.tar.gz": buf.getvalue(), "plain.txt": "not an archive\n"})
    docker("build", "-t", "added", str(ctx))
    assert docker.out("run", "--rm", "added", "sh", "-c",
                      "/opt/pkg/bin/tool; cat /opt/plain.txt; ls /opt") == \
        "tool\nnot an archive\npkg\nplain.txt"
    assert history(docker, "added")[1] == \
        f"/bin/sh -c #(nop) ADD file:{sha(buf.getvalue())} in /opt/ "


# -- the cache -------------------------------------------------------------------------------
CACHED = """\
FROM busybox
COPY a.txt /a.txt
RUN cat /a.txt > /copy.txt
COPY b.txt /b.txt
CMD ["cat", "/copy.txt", "/b.txt"]
"""


def test_cache_hits_and_misses(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": CACHED, "a.txt": "a\n", "b.txt": "b1\n"})
    first = docker("build", "-t", "cached", str(ctx)).stdout
    assert "Using cache" not in first
    image = inspect(docker, "cached")["Id"]

    again = docker("build", "-t", "cached", str(ctx)).stdout
    assert again.count(" ---> Using cache") == 4 and "Running in" not in again
    assert inspect(docker, "cached")["Id"] == image

    (ctx / "b.txt").write_text("b2\n")  # a COPY source changed: that step and later miss
    changed = docker("build", "-t", "cached", str(ctx)).stdout
    assert changed.count(" ---> Using cache") == 2
    assert changed.split("Step 4/5")[1].count("Using cache") == 0
    assert docker.out("run", "--rm", "cached") == "a\nb2"

    (ctx / "a.txt").chmod(0o755)  # same content, new mode: COPY keeps modes, so a miss
    assert "Using cache" not in docker("build", "-t", "cached", str(ctx)).stdout

    nocache = docker("build", "--no-cache", "-t", "cached", str(ctx)).stdout
    assert "Using cache" not in nocache and nocache.count("Running in") == 1
    assert inspect(docker, "cached")["Id"] != image


@pytest.mark.parametrize("driver", ["overlay"])
def test_build_arg_value_is_part_of_the_run_cache_key(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": "FROM busybox\nARG V=1\nRUN echo $V > /v\n"})
    docker("build", "-t", "v", str(ctx))
    assert docker("build", "-t", "v", str(ctx)).stdout.count("Using cache") == 2
    other = docker("build", "--build-arg", "V=2", "-t", "v", str(ctx)).stdout
    assert other.count("Using cache") == 1  # ARG itself is cached, the RUN is not
    assert docker.out("run", "--rm", "v", "cat", "/v") == "2"
    assert history(docker, "v")[0] == "|1 V=2 /bin/sh -c echo $V > /v"


# -- the command -----------------------------------------------------------------------------
@pytest.mark.parametrize("driver", ["overlay"])
def test_classic_output_quiet_and_stdin(docker: Docker, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nRUN echo hi\nENV A=b\n"
    out = docker("build", "-t", "classic:1", "-t", "classic:2", "-", input=dockerfile.encode())
    lines = out.stdout.splitlines()
    image = inspect(docker, "classic:1")["Id"]
    run_id = lines[3].removeprefix(" ---> Running in ")
    assert len(run_id) == 12
    assert lines == [
        "Step 1/3 : FROM busybox", f" ---> {inspect(docker, 'busybox')['Id'][7:19]}",
        "Step 2/3 : RUN echo hi", f" ---> Running in {run_id}", "hi",
        f"Removing intermediate container {run_id}",
        f" ---> {inspect(docker, 'classic:1')['Parent'][7:19]}",
        "Step 3/3 : ENV A=b", f" ---> {image[7:19]}", f"Successfully built {image[7:19]}",
        "Successfully tagged classic:1", "Successfully tagged classic:2"]
    assert docker.out("ps", "-aq") == ""  # the RUN's container was removed
    quiet = docker("build", "-q", "--no-cache", "-", input=dockerfile.encode())
    assert quiet.stdout.strip().startswith("sha256:") and len(quiet.stdout.strip()) == 71

    ctx = context(tmp_path, {"data.txt": "from a tar context\n",
                             "Dockerfile": "FROM busybox\nCOPY data.txt /\n"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(ctx, arcname=".")
    docker("build", "-t", "fromtar", "-", input=buf.getvalue())
    assert docker.out("run", "--rm", "fromtar", "cat", "/data.txt") == "from a tar context"
    docker("build", "-f", "-", "-t", "dffromstdin", str(ctx),
           input=b"FROM busybox\nCOPY data.txt /again.txt\n")
    assert docker.out("run", "--rm", "dffromstdin", "cat", "/again.txt") == "from a tar context"


def test_typed_result_and_streamed_progress(engine: Engine, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\nUSER 1\n",
                             "f": "content\n"})
    out = tmp_path / "stdout"
    with out.open("wb") as stdout, open(os.devnull, "wb") as stderr:
        result = execute(engine, ["build", "-t", "typed", str(ctx)],
                         IO(io.BytesIO(), stdout, stderr))
    assert isinstance(result, Build)
    image = engine.images.get("typed")
    assert result.image_id == image.id and result.tags == ["typed:latest"]
    assert result.text() == f"Successfully built {image.id[7:19]}\nSuccessfully tagged typed:latest"
    assert [s["instruction"] for s in result.steps] == [
        "FROM busybox", "COPY f /f", "RUN cat /f", "USER 1"]
    frm, cp, run, user = result.steps
    assert (frm["image"], frm["layer"]) == (engine.images.get("busybox").id, "")
    assert cp["layer"] == image.diff_ids[1] and cp["size"] == len("content\n")
    assert run["container"] and run["layer"] == "" and not run["cached"]  # RUN changed nothing
    assert user["image"] == image.id and user["layer"] == "" and user["duration"] >= 0
    assert [s["index"] for s in result.steps] == [1, 2, 3, 4]
    streamed = out.read_text()
    assert streamed.index("Step 3/4 : RUN cat /f") < streamed.index("content\n") < \
        streamed.index("Removing intermediate container")
    with open(os.devnull, "wb") as sink:
        again = execute(engine, ["build", "-t", "typed", str(ctx)], IO(io.BytesIO(), sink, sink))
    assert [s["cached"] for s in again.steps] == [False, True, True, True]


def test_rmi_removes_the_intermediates(docker: Docker, tmp_path: Path) -> None:
    before = docker.out("images", "-aq")
    ctx = context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo 1 > /1\nENV X=1\n"
                                           "RUN echo 2 > /2\n"})
    docker("build", "-t", "temp", str(ctx))
    assert len(docker.out("images", "-aq").split()) == 4
    removed = docker.out("rmi", "temp")
    assert removed.count("Deleted: sha256:") == 3 + 2  # three images, two layers
    assert docker.out("images", "-aq") == before


# -- filesystem safety and FROM scratch ----------------------------------------------------
def test_copy_never_writes_through_an_image_symlink(docker: Docker, tmp_path: Path) -> None:
    outside = Path(f"/tmp/ll-build-escape-{os.getpid()}")
    shutil.rmtree(outside, ignore_errors=True)
    ctx = context(tmp_path, {"f.txt": "inside\n", "Dockerfile": f"""\
FROM busybox
RUN ln -s /../../../../..{outside} /app && ln -s {outside}/target /linked.txt
COPY f.txt /app/
COPY f.txt /linked.txt
"""})
    docker("build", "-t", "safe", str(ctx))
    assert not outside.exists()
    assert docker.out("run", "--rm", "safe", "cat", f"{outside}/f.txt", "/linked.txt") == \
        "inside\ninside"
    assert docker.out("run", "--rm", "safe", "sh", "-c", "test -L /linked.txt || echo file") == \
        "file"


def test_from_scratch(docker: Docker, tmp_path: Path) -> None:
    from layerlab.engine.transfer.bootstrap import find_busybox

    ctx = context(tmp_path, {"Dockerfile": 'FROM scratch\nCOPY busybox /bin/busybox\n'
                                           'ENTRYPOINT ["/bin/busybox", "echo"]\n'
                                           'CMD ["from scratch"]\n'})
    shutil.copy(find_busybox(), ctx / "busybox")
    out = docker("build", "-t", "tiny", str(ctx)).stdout
    assert out.splitlines()[:2] == ["Step 1/4 : FROM scratch", " ---> "]
    img = inspect(docker, "tiny")
    assert len(img["RootFS"]["Layers"]) == 1
    assert img["Config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                    "/sbin:/bin"]
    assert len(history(docker, "tiny")) == 3
    assert docker.out("run", "--rm", "tiny") == "from scratch"


@pytest.mark.parametrize("driver", ["overlay"])
def test_predefined_args_platform_and_labels(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": """\
FROM --platform=$BUILDPLATFORM busybox AS native
FROM --platform=linux/s390x busybox
ARG TARGETARCH
RUN echo "proxy=$HTTP_PROXY arch=$TARGETARCH" > /seen
"""})
    out = docker("build", "--build-arg", "HTTP_PROXY=http://proxy:3128", "--label",
                 "built.by=tests", "-t", "pre", str(ctx)).stdout
    assert out.count("[Warning] FROM --platform=") == 1
    assert "FROM --platform=linux/s390x is ignored" in out
    assert "were not consumed" not in out  # proxy args are predefined
    assert 'Step 5/5 : LABEL "built.by"="tests"' in out
    arch = inspect(docker, "busybox")["Architecture"]
    assert docker.out("run", "--rm", "pre", "cat", "/seen") == \
        f"proxy=http://proxy:3128 arch={arch}"
    # an undeclared proxy arg stays out of the history (and the cache key)
    assert history(docker, "pre")[1] == (f"|1 TARGETARCH={arch} /bin/sh -c echo "
                                         '"proxy=$HTTP_PROXY arch=$TARGETARCH" > /seen')
    assert inspect(docker, "pre")["Config"]["Labels"] == {"built.by": "tests"}


def test_copy_from_image_and_stage_index(docker: Docker, tmp_path: Path) -> None:
    ctx = context(tmp_path, {"Dockerfile": """\
FROM busybox
RUN mkdir -p /data/sub && echo x > /data/sub/x && ln -s sub/x /data/link
FROM scratch
COPY --from=busybox /bin /bin
COPY --from=0 /data /data
COPY --from=0 /data/link /followed
"""})
    docker("build", "-t", "fromimg", str(ctx))
    got = docker.out("run", "--rm", "fromimg", "sh", "-c",
                     "cat /data/sub/x /followed; readlink /data/link; stat -c %h /bin/sh")
    lines = got.split("\n")
    assert lines[:3] == ["x", "x", "sub/x"]
    assert int(lines[3]) > 100  # busybox's applets stay hardlinks of one binary
    sizes = docker.out("history", "--format", "{{.Size}}", "fromimg").split("\n")
    assert sizes[2].endswith("MB") and float(sizes[2][:-2]) < 5  # not 400 copies
