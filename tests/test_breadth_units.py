"""Pieces of the command layer that need no containers: Go structs and ``missingkey`` in
templates, Docker's time values, ``path.Match`` globs, env/label files, the event log's
bound and its follower, registry challenges. Each is checked against what Docker (Go)
does with the same input."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

import pytest
from layerlab.engine.commands.grammar import UsageError
from layerlab.engine.commands.handlers.common import read_kv_files
from layerlab.engine.errors import InvalidArgument
from layerlab.engine.gotemplate import GoStruct, TemplateError, parse
from layerlab.engine.services import events as events_mod
from layerlab.engine.services.events import Event, EventFilter, EventLog
from layerlab.engine.services.filters import Filters, go_glob
from layerlab.engine.timestamps import format_nanos, go_duration, rfc3339_nanos, to_nanos
from layerlab.engine.transfer import auth


# -- templates: structs and maps -------------------------------------------------------------
def test_missing_struct_field_is_an_error_missing_map_key_is_not() -> None:
    row = GoStruct("*formatter.ContainerContext", {"ID": "abc", "Labels": {"a": "1"}})
    assert parse("{{.ID}} {{.Labels.b}}").render(row) == "abc <no value>"
    with pytest.raises(TemplateError) as info:
        parse("{{.Foo}}").render(row)
    assert str(info.value) == ('template: :1:2: executing "" at <.Foo>: can\'t evaluate field '
                               "Foo in type *formatter.ContainerContext")


def test_missingkey_error_names_the_key() -> None:
    with pytest.raises(TemplateError) as info:
        parse("x {{.Config.Nope}}").render({"Config": {}}, missingkey="error")
    assert str(info.value) == ('template: :1:11: executing "" at <.Config.Nope>: map has no '
                               'entry for key "Nope"')
    assert parse("{{.Config.Nope}}").render({"Config": {}}) == "<no value>"


def test_json_of_a_struct_uses_its_tags_and_omitempty() -> None:
    msg = GoStruct("events.Message", {"Status": "", "ID": "x", "Type": "container", "Time": 0},
                   {"Status": "status,omitempty", "ID": "id,omitempty", "Time": "time,omitempty"})
    assert parse("{{json .}}").render(msg) == '{"id":"x","Type":"container"}'
    assert parse("{{.ID}}").render(msg) == "x"  # templates see the Go field names


# -- Docker's --since/--until values ----------------------------------------------------------
NOW = 1_700_000_000.25


@pytest.mark.parametrize(("value", "nanos"), [
    ("10m", (1_700_000_000 - 600) * 10**9),  # whole seconds, as the client sends them
    ("1h30m", (1_700_000_000 - 5400) * 10**9),
    ("1.5s", (1_700_000_000 - 2) * 10**9),  # Unix() floors 1699999998.75
    ("1700000000", 1_700_000_000 * 10**9),
    ("1700000000.5", 1_700_000_000 * 10**9 + 500_000_000),
    ("2023-11-14T22:13:20Z", 1_700_000_000 * 10**9),
    ("2023-11-14T22:13:20.000000123Z", 1_700_000_000 * 10**9 + 123),
    ("2023-11-15T00:13:20+02:00", 1_700_000_000 * 10**9),
    ("2023-11-14T00:00:00Z", 1_699_920_000 * 10**9),
    ("2023-11-14T02:00+02:00", 1_699_920_000 * 10**9),
])
def test_time_values(value: str, nanos: int) -> None:
    assert to_nanos(value, NOW) == nanos


def test_local_times_use_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Etc/GMT-2")  # two hours east of UTC
    time.tzset()
    try:
        assert to_nanos("2023-11-14", NOW) == (1_699_920_000 - 7200) * 10**9
        assert to_nanos("2023-11-15T00:13", NOW) == (1_700_000_000 - 20) * 10**9
        assert format_nanos(1_700_000_000 * 10**9) == "2023-11-15T00:13:20.000000000+02:00"
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("value", ["yesterday", "2023-13-01", "10 minutes"])
def test_bad_time_values(value: str) -> None:
    with pytest.raises(ValueError):
        to_nanos(value, NOW)


def test_go_duration_and_fixed_format() -> None:
    assert go_duration("-1h2m3.5s") == -(3600 + 120 + 3.5)
    assert go_duration("5") is None and go_duration("") is None and go_duration("0") == 0
    assert format_nanos(1_700_000_000 * 10**9 + 42, local=False) == \
        "2023-11-14T22:13:20.000000042Z"
    assert rfc3339_nanos("2023-11-14T22:13:20.5Z") == 1_700_000_000 * 10**9 + 500_000_000
    assert rfc3339_nanos("0001-01-01T00:00:00Z") == 0


# -- filters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("busy*", "busybox", True),
    ("*", "library/busybox", False),  # path.Match: * stops at /
    ("*/*", "library/busybox", True),
    ("b?sybox", "busybox", True),
    ("[a-c]usybox", "busybox", True),
    ("[^a-c]usybox", "busybox", False),
    ("busybox\\*", "busybox*", True),
])
def test_reference_globs_are_go_path_match(pattern: str, text: str, matches: bool) -> None:
    assert bool(go_glob(pattern).fullmatch(text)) is matches


def test_filter_semantics() -> None:
    f = Filters([("name", "^web"), ("name", "db$"), ("label", "tier"), ("label", "env=prod")])
    assert f.match("name", "web1") and f.match("name", "mydb") and not f.match("name", "xweb")
    assert f.match_kv("label", {"tier": "", "env": "prod"})
    assert not f.match_kv("label", {"tier": "", "env": "dev"})
    assert Filters().match("name", "anything")
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'colour'$"):
        Filters([("colour", "red")]).validate(frozenset({"name"}))
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling=\[maybe\]'$"):
        Filters([("dangling", "maybe")]).bool_or_default("dangling", False)


# -- env and label files ----------------------------------------------------------------------
def test_env_file_as_docker_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "host value")
    monkeypatch.delenv("NOT_SET", raising=False)
    f = tmp_path / "app.env"
    f.write_bytes("\ufeffA=1\n  # a comment\n\nB= spaced value \nFROM_HOST\nNOT_SET\nC=x=y\n"
                  .encode())
    assert read_kv_files([str(f)], "run", from_env=True) == [
        "A=1", "B= spaced value ", "FROM_HOST=host value", "C=x=y"]
    assert read_kv_files([str(f)], "run", from_env=False) == ["A=1", "B= spaced value ",
                                                              "C=x=y"]


@pytest.mark.parametrize(("content", "message"), [
    (b"BAD KEY=1\n", "variable 'BAD KEY' contains whitespaces"),
    (b"=value\n", "no variable name on line '=value'"),
    (b"A=\xff\n", "invalid utf8 bytes at line 1"),
])
def test_env_file_errors(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "bad.env"
    f.write_bytes(content)
    with pytest.raises(UsageError) as info:
        read_kv_files([str(f)], "run", from_env=True)
    assert message in str(info.value) and str(info.value).startswith("docker: invalid env file")
    assert str(info.value).endswith("See 'docker run --help'.")
    with pytest.raises(UsageError, match=r"open .*nope\.env: no such file or directory"):
        read_kv_files([str(tmp_path / "nope.env")], "create", from_env=True)


# -- the event log ----------------------------------------------------------------------------
def test_event_log_is_bounded_and_keeps_the_newest(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_mod, "MAX_BYTES", 4000)
    log = EventLog(tmp_path)
    for i in range(200):
        log.log("container", "start", f"c{i}", {"name": f"n{i}"})
        assert log.path.stat().st_size <= 4000
    kept = [ev.ID for ev in log.read()]
    assert kept[-1] == "c199" and len(kept) < 200
    assert kept == [f"c{i}" for i in range(200 - len(kept), 200)]  # a contiguous newest tail
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


def test_follower_sees_new_events_across_a_trim(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_mod, "MAX_BYTES", 3000)
    monkeypatch.setattr(events_mod, "POLL_SECONDS", 0.01)
    log = EventLog(tmp_path)
    log.log("image", "tag", "first")
    start = log.read()[0].timeNano
    seen: list[str] = []
    done = threading.Event()

    def follow() -> None:
        for ev in log.follow(start - 1, stop=done.is_set):
            seen.append(ev.ID)
            if ev.ID == "last":
                done.set()

    t = threading.Thread(target=follow)
    t.start()
    try:
        for i in range(100):  # far more than the log keeps: it is trimmed several times
            log.log("image", "tag", f"e{i}")
        log.log("image", "tag", "last")
        t.join(30)
    finally:
        done.set()
        t.join()
    assert seen[0] == "first" and seen[-1] == "last"
    assert seen == sorted(set(seen), key=seen.index)  # nothing twice
    assert [s for s in seen if s.startswith("e")] == sorted(
        (s for s in seen if s.startswith("e")), key=lambda s: int(s[1:]))


def test_event_filters_as_moby_applies_them() -> None:
    ev = Event("container", "exec_create: ls -l", "abc123", {"name": "web", "image": "busybox",
                                                              "tier": "front"})
    img = Event("image", "tag", "sha256:" + "0" * 64, {"name": "busybox:latest"})
    assert EventFilter([("event", "exec_create")])(ev)  # exec_create matches its suffix
    assert not EventFilter([("event", "create")])(ev)
    assert EventFilter([("container", "web")])(ev) and EventFilter([("container", "abc")])(ev)
    assert not EventFilter([("container", "web")])(img)  # other objects do not pass
    assert EventFilter([("image", "busybox")])(ev) and EventFilter([("image", "busybox")])(img)
    assert EventFilter([("type", "image"), ("type", "volume")])(img)
    assert EventFilter([("label", "tier=front")])(ev)
    assert not EventFilter([("label", "tier=back")])(ev)
    legacy = ev.legacy_record()
    assert list(legacy)[:3] == ["status", "id", "from"] and legacy["from"] == "busybox"


# -- registry challenges ----------------------------------------------------------------------
def test_challenges_and_stored_credentials(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert auth.parse_challenge('Bearer realm="https://a/token",service="reg"') == (
        "bearer", {"realm": "https://a/token", "service": "reg"})
    creds = auth.Credentials("alice", "s:cret")
    assert auth.basic(creds) == "Basic " + base64.b64encode(b"alice:s:cret").decode()
    assert auth.lookup("127.0.0.1:5000") is None
    path = auth.store("http://127.0.0.1:5000/v2/", creds)
    assert path == tmp_path / "cfg" / "config.json"
    assert auth.lookup("127.0.0.1:5000") == creds
    assert os.stat(tmp_path / "cfg").st_mode & 0o777 == 0o700
    assert auth.server_key("docker.io") == auth.server_key("") == "https://index.docker.io/v1/"
    auth.erase("127.0.0.1:5000")
    assert auth.lookup("127.0.0.1:5000") is None
