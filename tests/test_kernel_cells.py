"""The cell language, completion and help, without a running kernel."""

from __future__ import annotations

import pytest
from layerlab.kernel import cells, completion
from layerlab.kernel.commands import help_request

NAMES = completion.Names(
    containers=lambda running: ["web", "3f4e5a6b7c8d"] if running else
    ["web", "seed", "3f4e5a6b7c8d", "9a8b7c6d5e4f"],
    images=lambda: ["busybox:latest", "busybox", "seed:1", "8efd43f37ea6"])


def test_lines_comments_continuations_quotes() -> None:
    cell = cells.parse("# a comment\n\ndocker run --rm \\\n  busybox sh -c 'echo a > /x; "
                       "cat /x'  # trailing\ndocker ps -a --format \"{{.Names}} {{.ID}}\"\n")
    assert [c.argv for c in cell.commands] == [
        ["run", "--rm", "busybox", "sh", "-c", "echo a > /x; cat /x"],
        ["ps", "-a", "--format", "{{.Names}} {{.ID}}"]]


def test_quoted_operators_are_words() -> None:
    (cmd,) = cells.parse("docker run busybox echo '>' \"<\" a\\|b").commands
    assert cmd.argv == ["run", "busybox", "echo", ">", "<", "a|b"] and not cmd.stdout_path


def test_heredocs_and_redirections() -> None:
    cell = cells.parse("docker exec -i web sh <<'EOF'\necho $HOME\n  cat /x\nEOF\n"
                       "docker save busybox > bb.tar\ndocker load < bb.tar\n"
                       "cat bb.tar | docker import - flat:1\n"
                       "docker logs web >> log.txt 2>&1\n"
                       "docker run -i busybox cat <<-END\n\tindented\n\tEND\n")
    heredoc, save, load, imp, logs, tabs = cell.commands
    assert heredoc.stdin_data == b"echo $HOME\n  cat /x\n"
    assert save.stdout_path == "bb.tar" and not save.stdout_append
    assert load.stdin_path == "bb.tar" and imp.stdin_path == "bb.tar"
    assert imp.argv == ["import", "-", "flat:1"]
    assert logs.stdout_append and logs.stderr_to_stdout
    assert tabs.stdin_data == b"indented\n"


def test_and_and_semicolons_split_commands() -> None:
    cell = cells.parse("docker stop web && docker rm web; docker ps")
    assert [c.argv[0] for c in cell.commands] == ["stop", "rm", "ps"]


@pytest.mark.parametrize("code, expected", [
    ("ls -l", "is not a docker command"),
    ("ps -a", "Did you mean `docker ps -a`?"),
    ("docker ps | grep web", "pipes are not supported"),
    ("docker run -d busybox sleep 9 &", "`&` (background) is not supported"),
    ("docker ps >", "needs a file name"),
    ("%%bash\nls", "unknown cell magic %%bash"),
    ("%%file\nx", "exactly one PATH"),
])
def test_clear_errors_name_what_is_accepted(code: str, expected: str) -> None:
    with pytest.raises(cells.CellError) as e:
        cells.parse(code)
    assert expected in str(e.value)


def test_magics() -> None:
    cell = cells.parse("%%dockerfile -t hello:1 --no-cache\nFROM busybox\nRUN echo hi\n")
    assert cell.magic == "dockerfile" and cell.args == ["-t", "hello:1", "--no-cache"]
    assert cell.body == "FROM busybox\nRUN echo hi\n"
    cell = cells.parse("%%file app/run.sh\n#!/bin/sh\necho hi")
    assert cell.magic == "file" and cell.args == ["app/run.sh"]


@pytest.mark.parametrize("code, status", [
    ("docker ps", "complete"),
    ("docker run \\", "incomplete"),
    ("docker run busybox sh -c 'echo", "incomplete"),
    ('docker run busybox sh -c "echo', "incomplete"),
    ("docker exec -i web sh <<EOF\nls", "incomplete"),
    ("docker exec -i web sh <<EOF\nls\nEOF", "complete"),
    ("ls", "invalid"),
    ("%%dockerfile\nFROM busybox", "incomplete"),
    ("%%dockerfile\nFROM busybox\n\n", "complete"),
])
def test_is_complete(code: str, status: str) -> None:
    assert cells.completeness(code)[0] == status


@pytest.mark.parametrize("code, matches", [
    ("dock", ["docker"]),
    ("docker pa", ["pause"]),
    ("docker container l", ["list", "logs", "ls"]),
    ("docker images --t", ["--tree"]),
    ("docker run --rm busy", ["busybox:latest", "busybox"]),
    ("docker run --name x -e A=1 se", ["seed:1"]),
    ("docker stop ", ["web", "3f4e5a6b7c8d"]),
    ("docker rm s", ["seed"]),
    ("docker kill -s SIGTE", ["SIGTERM"]),
    ("docker inspect --type c", ["container"]),
    ("docker image ex", ["explore"]),
    ("docker image explore busy", ["busybox:latest", "busybox"]),
    ("docker tag se", ["seed:1"]),
    ("docker rmi busybox se", ["seed:1"]),
    ("docker inspect se", ["seed", "seed:1"]),
    ("docker run \\\n  --rm busy", ["busybox:latest", "busybox"]),
    ("%%do", ["%%dockerfile"]),
    ("%%dockerfile -t x\nFROM busy", ["busybox:latest", "busybox"]),
    ("%%dockerfile -t x\nFROM busybox\nru", ["RUN"]),
])
def test_completion(code: str, matches: list[str]) -> None:
    c = completion.complete(code, len(code), NAMES)
    assert c.matches == matches
    partial = code.replace("\n", " ").split(" ")[-1]
    assert c.start == len(code) - len(partial)


def test_help() -> None:
    assert completion.help_text("docker run -d busybox", 8).startswith("usage: docker run")
    assert completion.help_text("docker container ls -a", 10).startswith("usage: docker ps")
    assert "Commands:" in completion.help_text("", 0)
    assert "Instructions:" in completion.help_text("%%dockerfile\nFROM busybox", 20)
    assert help_request(["run?"]).startswith("usage: docker run")
    assert help_request(["help", "ps"]).startswith("usage: docker ps")
    assert "Commands:" in help_request([])
    assert help_request(["run", "busybox", "echo", "why?"]) is None
