"""Tests for engine.gotemplate: outputs and messages are those Go's text/template
(with Docker's helper functions) prints for the same template and data.

Deliberate differences from Go run on ``map[string]interface{}`` data, because
dicts here stand for Docker's typed structs: a ``None`` value prints ``<nil>``
(a nil pointer such as ``.State.Health``), ``json`` keeps a dict's key order
(struct field order), and messages name the value's own type ("in type string").
"""

from __future__ import annotations

import dataclasses

import pytest
from layerlab.engine.gotemplate import Template, TemplateError, parse, split_table

CONTAINER = {
    "ID": "4fa6e0f0c678",
    "Name": "/web",
    "Image": "nginx:1.25",
    "Args": ["-g", "daemon off;"],
    "State": {"Status": "running", "Running": True, "Pid": 4242, "ExitCode": 0, "Health": None},
    "Config": {
        "Env": ["PATH=/usr/bin", "LANG=C"],
        "Labels": {"com.docker.compose.project": "shop", "maintainer": "ops"},
    },
    "Mounts": [
        {"Type": "bind", "Destination": "/data", "RW": True},
        {"Type": "volume", "Destination": "/cache", "RW": False},
    ],
    "NetworkSettings": {
        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "back": {"IPAddress": "10.0.0.5"}},
        "Ports": {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
            "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}],
        },
    },
    "Size": 1024,
    "CPU": 2.5,
    "Zero": 0,
    "Empty": "",
    "None": [],
    "Ints": [3, 1, 2],
    "Nested": [[1, 2], [3]],
    "Uni": "héllo",
}


def render(text: str, data: object = CONTAINER) -> str:
    return parse(text).render(data)


def error_of(text: str, data: object = CONTAINER) -> str:
    with pytest.raises(TemplateError) as info:
        render(text, data)
    return str(info.value)


# ----------------------------------------------------------------------------- split_table


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("table {{.ID}}\t{{.Image}}", (True, "{{.ID}}\t{{.Image}}")),
        ("table {{.ID}}\\t{{.Image}}", (True, "{{.ID}}\t{{.Image}}")),  # typed in a shell
        ("{{.ID}}", (False, "{{.ID}}")),
        ("  {{.ID}}\\n ", (False, "{{.ID}}\n")),
        ("table", (True, "")),
    ],
)
def test_split_table(fmt: str, expected: tuple[bool, str]) -> None:
    assert split_table(fmt) == expected


# ----------------------------------------------------------------------------- rendering

RENDER_CASES = [
    # fields, text and default formatting of values
    ("{{.ID}}", "4fa6e0f0c678"),
    ("id={{.ID}} image={{.Image}}", "id=4fa6e0f0c678 image=nginx:1.25"),
    ("{{.State.Status}}", "running"),
    ("{{.State.Running}} {{.State.Pid}} {{.Size}} {{.CPU}}", "true 4242 1024 2.5"),
    ("{{.Args}}", "[-g daemon off;]"),
    ("{{.Config.Labels}}", "map[com.docker.compose.project:shop maintainer:ops]"),
    (
        "{{.Mounts}}",
        "[map[Destination:/data RW:true Type:bind] map[Destination:/cache RW:false Type:volume]]",
    ),
    ("{{.Nested}} {{.None}} {{.Empty}}|", "[[1 2] [3]] [] |"),
    ("{{.Missing}}", "<no value>"),
    ("{{.Missing.Deeper}} {{.State.Missing}}", "<no value> <no value>"),
    # literals
    (
        "{{3}} {{-7}} {{1.5}} {{1e3}} {{0x1F}} {{0755}} {{0b101}} {{1_000}} {{.5}}",
        "3 -7 1.5 1000 31 493 5 1000 0.5",
    ),
    ("{{'a'}} {{true}} {{false}} {{\"str\"}} {{`raw\\n`}}", "97 true false str raw\\n"),
    ('{{"\\u00e9\\x41\\101\\t|"}}', "éAA\t|"),
    # float formatting (Go's %v)
    (
        "{{1000000.0}} {{123456.0}} {{1234567.0}} {{0.0001}} {{0.00001}} {{-0.0}} {{2.0}}",
        "1e+06 123456 1.234567e+06 0.0001 1e-05 -0 2",
    ),
    # trimming and comments
    ("a  {{- .ID -}}  b", "a4fa6e0f0c678b"),
    ("x\n  {{- /* gone */ -}}\n  y", "xy"),
    ("a {{/* comment */}} b", "a  b"),
    ("{{-3}} {{- 3}}", "-33"),
    ("{{if .State.Running}}\n  up\n{{- end}}", "\n  up"),
    # variables
    ("{{$x := .State.Pid}}{{$x}}", "4242"),
    ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{with .State}}{{$.Name}}:{{.Status}}{{end}}", "/web:running"),
    ("{{$s := .State}}{{$s.Status}}", "running"),
    # pipelines and parentheses
    ('{{.ID | printf "%s-x"}}', "4fa6e0f0c678-x"),
    ('{{"abc" | upper | printf "<%s>"}}', "<ABC>"),
    ('{{.State.Pid | printf "%d %d" 1}}', "1 4242"),
    ("{{(index .Mounts 0).Destination}}", "/data"),
    ('{{print (len .Args) (upper "x")}}', "2X"),
    ('{{index .Config.Labels "maintainer" | upper}}', "OPS"),
    # if / else if / else
    ('{{if eq .State.Status "running"}}up{{else}}down{{end}}', "up"),
    ('{{if eq .State.Status "exited" "running"}}yes{{end}}', "yes"),
    ("{{if .Zero}}a{{else if .Empty}}b{{else if .Size}}c{{else}}d{{end}}", "c"),
    ("{{if .None}}x{{else}}empty list{{end}}", "empty list"),
    ("{{if .Missing}}x{{else}}missing{{end}}", "missing"),
    ("{{if $p := .State.Pid}}pid {{$p}}{{end}}", "pid 4242"),
    # with
    ("{{with .State}}{{.Status}}{{end}}", "running"),
    ("{{with .Missing}}x{{else}}none{{end}}", "none"),
    ("{{with .Empty}}x{{else with .Size}}size {{.}}{{end}}", "size 1024"),  # Go 1.23
    # range
    ("{{range .Mounts}}{{.Destination}} {{end}}", "/data /cache "),
    ("{{range $i, $m := .Mounts}}{{$i}}:{{$m.Type}},{{end}}", "0:bind,1:volume,"),
    ("{{range $m := .Mounts}}{{$m.RW}};{{end}}", "true;false;"),
    (
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}",
        "com.docker.compose.project=shop maintainer=ops ",
    ),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.5 172.17.0.2 "),
    ("{{range .None}}x{{else}}no items{{end}}", "no items"),
    ("{{range .Missing}}x{{else}}nothing{{end}}", "nothing"),
    ("{{range .Nested}}[{{range .}}{{.}}{{end}}]{{end}}", "[12][3]"),
    ("{{range .Args}}{{$.Name}}{{end}}", "/web/web"),
    ("{{range 3}}{{.}}{{end}}", "012"),  # Go 1.22
    ("{{$i := 9}}{{range $i, $e := .Ints}}{{end}}{{$i}}", "9"),
    # and / or / not (operands come back unchanged; evaluation stops early)
    (
        "{{and .Size .ID}} {{and .Zero .ID}} {{or .Zero .Empty}} {{or .Empty .ID}}",
        "4fa6e0f0c678 0  4fa6e0f0c678",
    ),
    ("{{or .ID (index .Args 99)}}", "4fa6e0f0c678"),
    ("{{and .Zero (index .Args 99)}}", "0"),
    ("{{.Size | and 1}} {{.Zero | or 5}}", "1024 5"),
    ("{{and .Missing 1}} {{or nil}}", "<no value> <no value>"),
    ("{{not .Empty}} {{not .Args}} {{not .Missing}}", "true false true"),
    # comparisons
    (
        "{{eq 1 1}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}}",
        "true true true true true false",
    ),
    ('{{lt "a" "b"}} {{gt 2.5 1.5}} {{le "b" "a"}}', "true true false"),
    (
        "{{eq .Missing nil}} {{eq .ID nil}} {{eq .State.Running true}} {{eq 'a' 97}}",
        "true false true true",
    ),
    # len, index, slice
    ('{{len .Args}} {{len .Uni}} {{len .Config.Labels}} {{len ""}}', "2 6 2 0"),
    ('{{index .Config.Labels "com.docker.compose.project"}}', "shop"),
    ('{{index .Config.Labels "nope"}}', "<no value>"),
    ('{{index .Args 1}} {{index .Nested 0 1}} {{index "abc" 1}}', "daemon off; 2 98"),
    (
        '{{slice .Args 1}} {{slice "abcdef" 1 3}} {{slice .Ints 0 2}} {{slice .Ints}}',
        "[daemon off;] bc [3 1] [3 1 2]",
    ),
    # print family
    ('{{print 1 2 "a" "b" 3 .Args nil}}', "1 2ab3 [-g daemon off;] <nil>"),
    ('{{println 1 "a" 2}}', "1 a 2\n"),
    ("{{print}}|{{print .Missing}}", "|<nil>"),
    # Docker's functions
    (
        '{{json .Args}} {{json .CPU}} {{json .Size}} {{json .Missing}} {{json "<a&b>"}}',
        '["-g","daemon off;"] 2.5 1024 null "<a&b>"',
    ),
    (
        "{{json .State}}",
        '{"Status":"running","Running":true,"Pid":4242,"ExitCode":0,"Health":null}',
    ),
    (
        "{{json 1e20}} {{json 1e21}} {{json 0.000001}} {{json 1e-7}} {{json 1.0}} {{json -0.0}}",
        "100000000000000000000 1e+21 0.000001 1e-7 1 -0",
    ),
    ('{{json "tab\\tquote\\"nl\\n\\u0001\\u2028é"}}', '"tab\\tquote\\"nl\\n\\u0001\\u2028é"'),
    ('{{join .Args ", "}} {{join .Missing ","}}|', "-g, daemon off; |"),  # Docker's []string
    (
        '{{split .Image ":"}} {{split "abc" ""}} {{len (split "a,,b" ",")}}',
        "[nginx 1.25] [a b c] 3",
    ),
    ('{{upper .Name}} {{lower "ÀÉ"}} {{upper "straße"}}', "/WEB àé STRAßE"),
    ('{{title "hello world foo_bar x-y élan"}}', "Hello World Foo_bar X-Y Élan"),
    ('{{truncate .ID 5}} {{truncate "ab" 5}} {{truncate .ID 12}}', "4fa6e ab 4fa6e0f0c678"),
    ('[{{pad .Name 2 1}}] [{{pad "" 2 3}}]', "[  /web ] []"),
]


@pytest.mark.parametrize(("text", "expected"), RENDER_CASES)
def test_render(text: str, expected: str) -> None:
    assert render(text) == expected


def test_render_whole_value_sorts_map_keys() -> None:
    data = {"b": 2, "a": [1, "x", None], "c": {"z": True, "y": 1.5}}
    assert render("{{.}}", data) == "map[a:[1 x <nil>] b:2 c:map[y:1.5 z:true]]"


def test_template_is_reusable() -> None:
    tmpl = parse("{{.Name}}:{{.State.Status}}")
    assert isinstance(tmpl, Template)
    rows = [{"Name": "a", "State": {"Status": "up"}}, {"Name": "b", "State": {"Status": "down"}}]
    assert [tmpl.render(row) for row in rows] == ["a:up", "b:down"]


def test_docker_ps_table_format() -> None:
    is_table, fmt = split_table("table {{.ID}}\\t{{.Image}}\\t{{.Status}}")
    tmpl = parse(fmt)
    row = {"ID": "4fa6e0f0c678", "Image": "nginx", "Status": "Up 2 minutes"}
    assert is_table and tmpl.render(row) == "4fa6e0f0c678\tnginx\tUp 2 minutes"


def test_docker_inspect_port_bindings_example() -> None:
    """The port-listing example from Docker's `docker inspect` documentation."""
    text = (
        "{{range $p, $conf := .NetworkSettings.Ports}}"
        " {{$p}} -> {{(index $conf 0).HostPort}} {{end}}"
    )
    assert render(text) == " 443/tcp -> 8443  80/tcp -> 8080 "


def test_docker_nil_pointer_prints_nil() -> None:
    """A None field is one of Docker's nil pointers, e.g. .State.Health without a healthcheck."""
    assert render('{{.State.Health}} {{json .State.Health}} {{printf "%v" .State.Health}}') == (
        "<nil> null <nil>"
    )
    assert render("{{if .State.Health}}x{{else}}no healthcheck{{end}}") == "no healthcheck"
    assert error_of("{{.State.Health.Status}}") == (
        'template: :1:8: executing "" at <.State.Health.Status>: '
        "nil pointer evaluating interface {}.Status"
    )


def test_dataclass_attributes_are_fields() -> None:
    @dataclasses.dataclass
    class Port:
        private: int
        public: int

    @dataclasses.dataclass
    class Row:
        ID: str
        Ports: list[Port]
        Labels: dict[str, str]

    row = Row("abc", [Port(80, 8080)], {"a": "b"})
    text = "{{.ID}} {{range .Ports}}{{.public}}->{{.private}}{{end}} {{.Labels.a}}"
    assert render(text, row) == "abc 8080->80 b"
    assert render("{{.}}", row) == "{abc [{80 8080}] map[a:b]}"
    assert render("{{json .}}", row) == (
        '{"ID":"abc","Ports":[{"private":80,"public":8080}],"Labels":{"a":"b"}}'
    )
    assert error_of("{{.Nope}}", row) == (
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type Row'
    )


def test_json_of_unencodable_value_prints_nothing_like_docker() -> None:
    assert render("[{{json .}}]", {"x": float("nan")}) == "[]"


# ----------------------------------------------------------------------------- printf

PRINTF_CASES = [
    ('"%s|%d|%v|%q|%t" .ID .Size .CPU .ID true', '4fa6e0f0c678|1024|2.5|"4fa6e0f0c678"|true'),
    (
        '"[%-10s][%10s][%5d][%-5d][%05d][%+d]" "ab" "cd" 42 42 42 42',
        "[ab        ][        cd][   42][42   ][00042][+42]",
    ),
    (
        '"%x|%X|%o|%O|%b|%c|%q|%U|%#x" 255 255 8 8 5 65 65 0x1F600 255',
        "ff|FF|10|0o10|101|A|'A'|U+1F600|0xff",
    ),
    ('"%x|% x|%X" "hé" "hé" "hi"', "68c3a9|68 c3 a9|6869"),
    (
        '"%.2f|%8.3f|%e|%g|%G" 3.14159 2.5 123456.789 0.000012345 1e21',
        "3.14|   2.500|1.234568e+05|1.2345e-05|1E+21",
    ),
    (
        '"%.3g|%E|%08.3f|%+.1f|%v" 1234.5678 1.5 -3.14159 2.0 1e6',
        "1.23e+03|1.500000E+00|-003.142|+2.0|1e+06",
    ),
    (
        '"%v %v %v %v" .Args .Config.Labels nil .State.Running',
        "[-g daemon off;] map[com.docker.compose.project:shop maintainer:ops] <nil> true",
    ),
    (
        '"%d %s %q %5v" .Ints .Ints .Args .Ints',
        '[3 1 2] [%!s(int=3) %!s(int=1) %!s(int=2)] ["-g" "daemon off;"] [    3     1     2]',
    ),
    (
        '"%.3s|%.0d|%.3d|%6.2s|%T|%T" "abcdef" 0 7 "abcdef" .Args nil',
        "abc||007|    ab|[]interface {}|<nil>",
    ),
    ('"%q" "a\\tb\\x01é"', '"a\\tb\\x01é"'),
    ('"%+q" "é"', '"\\u00e9"'),
    ('"100%%"', "100%"),
    # Go reports mistakes inline instead of failing
    ('"%d %s" "x" 5', "%!d(string=x) %!s(int=5)"),
    ('"%d"', "%!d(MISSING)"),
    ('"%d" 1 2 "x"', "1%!(EXTRA int=2, string=x)"),
    ('"%z" 1', "%!z(int=1)"),
    ('"%"', "%!(NOVERB)"),
    ('"%s|%d|%v" .Missing nil .Missing', "%!s(<nil>)|%!d(<nil>)|<nil>"),
    ('"%s %f %d" true 3 1.5', "%!s(bool=true) %!f(int=3) %!d(float64=1.5)"),
    ('"%!5.1s" .CPU', "%!!(float64=2.5)5.1s"),
    ('"%+v|% d" 5 5', "5| 5"),
]


@pytest.mark.parametrize(("args", "expected"), PRINTF_CASES)
def test_printf(args: str, expected: str) -> None:
    assert render("{{printf " + args + "}}") == expected


# ----------------------------------------------------------------------------- errors

PARSE_ERRORS = [
    ("{{foo}}", 'template: :1: function "foo" not defined'),
    ("{{.ID", "template: :1: unclosed action"),
    ("{{.ID\n\n", "template: :3: unclosed action started at :1"),
    ("{{if .ID}}x", "template: :1: unexpected EOF"),
    ("{{if .ID}}\nx\n", "template: :3: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{if .ID}}x{{else}}y{{else}}z{{end}}", "template: :1: expected end; found {{else}}"),
    ("{{range .Args}}{{else if .ID}}{{end}}", "template: :1: unexpected <if> in input"),
    ("{{}}", "template: :1: missing value for command"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{range}}{{end}}", "template: :1: missing value for range"),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{if true}}{{$x := 1}}{{end}}{{$x}}", 'template: :1: undefined variable "$x"'),
    ('{{"abc}}', "template: :1: unterminated quoted string"),
    ("{{`abc}}", "template: :1: unterminated raw quoted string"),
    ('{{"\\q"}}', "template: :1: invalid syntax"),
    ("{{'ab'}}", "template: :1: malformed character constant: 'ab'"),
    ("{{3x}}", 'template: :1: bad number syntax: "3x"'),
    ("{{08}}", 'template: :1: integer overflow: "08"'),
    ("{{1.2.3}}", 'template: :1: unexpected ".3" in operand'),
    ("{{1.Foo}}", 'template: :1: bad number syntax: "1.F"'),
    ("{{true.X}}", 'template: :1: unexpected . after term "true"'),
    ("{{.Foo-bar}}", "template: :1: bad character U+002D '-'"),
    ("{{.ID @}}", 'template: :1: unexpected "@" in operand'),
    ("{{.ID €}}", "template: :1: unrecognized character in action: U+20AC '€'"),
    ("{{.ID é}}", 'template: :1: function "é" not defined'),
    ("{{(.ID}}", "template: :1: unclosed left paren"),
    ("{{.ID)}}", "template: :1: unexpected right paren"),
    ("{{.ID | | upper}}", 'template: :1: unexpected "|" in command'),
    ('{{1 | "x"}}', "template: :1: non executable command in pipeline stage 2"),
    ('{{"a".Foo}}', 'template: :1: unexpected . after term "\\"a\\""'),
    ("{{range $i, $e, $f := .Args}}{{end}}", "template: :1: too many declarations in range"),
    ("{{$x, $y := 1}}", "template: :1: too many declarations in command"),
    ("{{range $i, 3 := .Args}}{{end}}", "template: :1: range can only initialize variables"),
    ("{{/* unclosed", "template: :1: unclosed comment"),
    ("{{/* x */ y}}", "template: :1: comment ends before closing delimiter"),
    ("{{:}}", "template: :1: expected :="),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert str(info.value) == message


def test_template_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not defined"):
        parse("{{nope}}")


EXEC_ERRORS = [
    ("{{.ID.Foo}}", "1:5", "<.ID.Foo>", "can't evaluate field Foo in type string"),
    ("x\n  {{.Args.Foo}}", "2:9", "<.Args.Foo>", "can't evaluate field Foo in type []interface {}"),
    ("{{.ID 1}}", "1:2", "<.ID>", "ID is not a method but has arguments"),
    ('{{"x" 1}}', "1:2", '<"x">', 'can\'t give argument to non-function "x"'),
    ("{{nil}}", "1:2", "<nil>", "nil is not a command"),
    ("{{.ID | .Name}}", "1:8", "<.Name>", "Name is not a method but has arguments"),
    (
        "{{index .Args 2}}",
        "1:2",
        "<index .Args 2>",
        "error calling index: reflect: slice index out of range",
    ),
    ("{{index .Args 5}}", "1:2", "<index .Args 5>", "error calling index: index out of range: 5"),
    (
        "{{index .Config.Labels 1}}",
        "1:2",
        "<index .Config.Labels 1>",
        "error calling index: value has type int; should be string",
    ),
    (
        "{{index .Size 1}}",
        "1:2",
        "<index .Size 1>",
        "error calling index: can't index item of type int",
    ),
    (
        "{{index .Missing 1}}",
        "1:2",
        "<index .Missing 1>",
        "error calling index: index of untyped nil",
    ),
    (
        "{{slice .Ints 2 1}}",
        "1:2",
        "<slice .Ints 2 1>",
        "error calling slice: invalid slice index: 2 > 1",
    ),
    (
        '{{slice "abc" 1 2 3}}',
        "1:2",
        '<slice "abc" 1 2 3>',
        "error calling slice: cannot 3-index slice a string",
    ),
    ("{{len 3}}", "1:2", "<len 3>", "error calling len: len of type int"),
    (
        '{{lt 1 "a"}}',
        "1:2",
        '<lt 1 "a">',
        "error calling lt: incompatible types for comparison: int and string",
    ),
    (
        "{{eq 1 1.0}}",
        "1:2",
        "<eq 1 1.0>",
        "error calling eq: incompatible types for comparison: int and float64",
    ),
    (
        "{{lt true false}}",
        "1:2",
        "<lt true false>",
        "error calling lt: invalid type for comparison",
    ),
    (
        "{{eq .Args .Args}}",
        "1:2",
        "<eq .Args .Args>",
        "error calling eq: non-comparable type [-g daemon off;]: []interface {}",
    ),
    ("{{eq 1}}", "1:2", "<eq 1>", "error calling eq: missing argument for comparison"),
    ("{{eq}}", "1:2", "<eq>", "wrong number of args for eq: want at least 1 got 0"),
    ("{{len 1 2}}", "1:2", "<len>", "wrong number of args for len: want 1 got 2"),
    ("{{.Args | len 1}}", "1:10", "<len>", "wrong number of args for len: want 1 got 2"),
    ("{{upper .Size}}", "1:8", "<.Size>", "wrong type for value; expected string; got int"),
    ("{{upper .Missing}}", "1:8", "<.Missing>", "invalid value; expected string"),
    ("{{upper 3}}", "1:8", "<3>", "expected string; found 3"),
    ("{{upper nil}}", "1:8", "<nil>", "cannot assign nil to string"),
    ('{{truncate .ID "3"}}', "1:15", '<"3">', 'expected integer; found "3"'),
    ('{{.Args | join ","}}', "1:15", '<",">', 'can\'t handle "," for arg of type []string'),
    (
        '{{join .Ints ","}}',
        "1:7",
        "<.Ints>",
        "wrong type for value; expected []string; got []interface {}",
    ),
    ("{{range .ID}}{{end}}", "1:8", "<.ID>", "range can't iterate over 4fa6e0f0c678"),
    (
        "{{range $i, $e := 3}}{{end}}",
        "1:18",
        "<3>",
        "can't use 3 to iterate over more than one variable",
    ),
    # the parser lets an assignment to an out-of-scope variable through
    ("{{if true}}{{$y := 1}}{{end}}{{$y = 2}}", "1:36", "<2>", "undefined variable: $y"),
]


@pytest.mark.parametrize(("text", "where", "context", "message"), EXEC_ERRORS)
def test_exec_errors(text: str, where: str, context: str, message: str) -> None:
    assert error_of(text) == f'template: :{where}: executing "" at {context}: {message}'
