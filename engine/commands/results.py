"""Typed results of commands: what the CLI prints as text and the kernel renders richly.

Every result has ``text()``, the exact plain-text output of the CLI; the notebook shows it
as the ``text/plain`` twin of its rich output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import EngineError
from ..oci.changes import Change

if TYPE_CHECKING:
    from ..services.explore import Exploration
    from ..services.networks import NetworkGraphData
    from ..services.system import LayerGraph


def tabulate(lines: list[str], minwidth: int = 10, padding: int = 3) -> str:
    """Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``, as the Docker CLI aligns tables."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell) + padding, minwidth)
    out = []
    for cells in rows:
        text = "".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1])) + cells[-1]
        out.append(text.rstrip() if len(cells) > 1 else text)
    return "\n".join(out)


class FormatError(EngineError):
    """A ``--format`` template that does not parse or names what the data lacks: the CLI's
    own error (no daemon prefix), exit 1 unless Docker's command says otherwise."""

    daemon = False

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# Go's type of the record each listing hands its template, as Go's errors name it.
GO_TYPES = {"ps": "*formatter.ContainerContext", "images": "*formatter.imageContext",
            "history": "*image.historyContext", "network ls": "*network.networkContext",
            "volume ls": "*volume.volumeContext",
            "stats": "*formatter.statsContext"}
# Fields of Docker's inspect structs whose values are Go maps, not structs (see Document).
_MAP_FIELDS = frozenset({"Labels", "ExposedPorts", "Volumes", "Networks", "Ports", "Data",
                         "Options", "DriverOpts", "Sysctls", "StorageOpt", "Tmpfs",
                         "Annotations", "Attributes", "Containers", "PortBindings"})


def _user_template(template: str) -> str:
    """Docker's format keywords: ``json`` is one JSON object per line (Docker 23+), a bare
    ``table`` is the default table."""
    if template == "json":
        return "{{json .}}"
    return "" if template == "table" else template


def _render_all(template: str, records: list[Any], prefix: str = "template parsing error: ",
                parse_exit: int = 1, missingkey: str = "default") -> list[str]:
    """Every record through one template; Go's errors become a FormatError."""
    from .. import gotemplate

    try:
        tmpl = gotemplate.parse(template)
    except gotemplate.TemplateError as e:
        raise FormatError(f"{prefix}{e}", parse_exit) from None
    try:
        return [tmpl.render(r, missingkey) for r in records]
    except gotemplate.TemplateError as e:
        raise FormatError(f"{prefix}{e}") from None


@dataclass
class Result:
    exit_code: int = field(default=0, kw_only=True)

    def text(self) -> str:
        return ""


@dataclass
class Table(Result):
    """Rows of Docker ``--format`` records, printed through a Go template (default or user's).

    ``columns`` names the record fields of the default view, with their headers; the kernel
    builds its HTML table from them.
    """

    kind: str  # "ps", "images", "history", "df", …: lets a front-end pick a renderer
    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]]  # (field, header)
    template: str = ""  # the user's --format, if any
    quiet_field: str = ""

    def default_template(self) -> str:
        return "table " + "\t".join(f"{{{{.{f}}}}}" for f, _ in self.columns)

    def text(self) -> str:
        """The rows through the template; each row is the Go struct Docker's formatter hands
        its template (a missing field is an error), its JSON keys sorted as Docker's are."""
        if not _user_template(self.template):
            plain = _default_table(self.rows, self.columns)
            if plain is not None:
                return plain
        from .. import gotemplate  # only listings need it; keeps `docker run` start-up short

        template = _user_template(self.template) or self.default_template()
        is_table, body = gotemplate.split_table(template)
        go_type = GO_TYPES.get(self.kind, "")
        records = [r if isinstance(r, gotemplate.GoStruct) or not go_type
                   else gotemplate.GoStruct(go_type, dict(sorted(r.items()))) for r in self.rows]
        lines = _render_all(body, records)
        if not is_table:
            return "\n".join(lines)
        header = _render_all(body, [self.all_headers()])[0]
        return tabulate([header, *lines])

    def all_headers(self) -> dict[str, str]:
        headers = {f: h for f, h in self.columns}
        for row in self.rows[:1]:
            for key in row:
                headers.setdefault(key, _header_of(key))
        return headers


def _default_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str | None:
    """The default view without the template engine, where every cell is a string (Go's
    ``{{.Field}}`` of a string prints it as it is): what the template would print, at a
    fraction of the cost on long listings (``history`` of a deep image, ``images -a``).
    None where a cell is anything else or missing: the template handles those."""
    lines = ["\t".join(header for _, header in columns)]
    for row in rows:
        cells = [c for c in (row.get(f) for f, _ in columns) if isinstance(c, str)]
        if len(cells) != len(columns):
            return None
        lines.append("\t".join(cells))
    return tabulate(lines)


def _header_of(field_name: str) -> str:
    """Docker derives headers of unlisted fields by upper-casing their words."""
    out = ""
    for i, ch in enumerate(field_name):
        if ch.isupper() and i and not field_name[i - 1].isupper():
            out += " "
        out += ch.upper()
    return out


@dataclass
class History(Table):
    """``history``: the table, and the image it is the history of (a front-end can show
    each row's layer contents from it)."""

    image_id: str = ""


@dataclass
class Lines(Result):
    """Plain lines: IDs, names, ``Untagged:``/``Deleted:`` reports, ``Loaded image:``."""

    lines: list[str] = field(default_factory=list)
    kind: str = ""

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Committed(Lines):
    """``commit``: the new image's ID (the printed line) and the reference it was given."""

    image_id: str = ""
    ref: str = ""


@dataclass
class Document(Result):
    """``inspect``: JSON objects (or a ``--format`` rendering of each).

    Docker's inspect runs the template on the typed object first, where a missing struct
    field fails but a missing map key (a label) prints ``<no value>``; when that fails it
    runs it again on the JSON decoded as maps with ``missingkey=error``, whose error is the
    one shown (``map has no entry for key "Foo"``), exit 1. Objects that are already
    ``GoStruct``s (``info``, ``version``, ``system df -v``) are Go structs of their own and
    run once."""

    objects: list[Any]
    kind: str = ""  # "container" or "image" when all objects are of one kind
    template: str = ""

    def text(self) -> str:
        if self.template == "json":
            return json.dumps(self.objects, ensure_ascii=False, separators=(",", ":"))
        if not self.template:
            return json.dumps(self.objects, indent=4, ensure_ascii=False)
        from ..gotemplate import GoStruct

        out = []
        for obj in self.objects:
            if isinstance(obj, GoStruct):
                out += _render_all(_user_template(self.template), [obj], parse_exit=64)
                continue
            try:
                out += _render_all(self.template, [_typed(obj)], parse_exit=64)
            except FormatError as e:
                if e.exit_code == 64:
                    raise
                out += _render_all(self.template, [obj], missingkey="error")
        return "\n".join(out)


def _typed(value: Any) -> Any:
    """Inspect JSON as Docker's typed structs: objects are structs, except the values of
    map-typed fields (whose own values may be structs again)."""
    from ..gotemplate import GoStruct

    if isinstance(value, list):
        return [_typed(v) for v in value]
    if not isinstance(value, dict):
        return value
    return GoStruct("", {k: ({mk: _typed(mv) for mk, mv in v.items()}
                             if k in _MAP_FIELDS and isinstance(v, dict) else _typed(v))
                         for k, v in value.items()})


@dataclass
class Changes(Result):
    """``diff``: A/C/D entries of a container's read-write layer (S4)."""

    container: str
    changes: list[Change]

    def text(self) -> str:
        return "\n".join(f"{c.kind} {c.path}" for c in self.changes)


@dataclass
class Graph(Result):
    """The layer graph (S9 ``--tree``): layers bottom-up, images and containers on them."""

    layers: list[dict[str, Any]]  # {id, diff_id, parent, size}
    images: list[dict[str, Any]]  # {id, tags, top, parent, intermediate, created_by}
    containers: list[dict[str, Any]]  # {id, name, top, state, image, rw_size}

    @classmethod
    def of(cls, g: LayerGraph) -> Graph:
        return cls(g.layers, g.images, g.containers)

    def text(self) -> str:
        from .tree import render_tree

        return render_tree(self)


@dataclass
class Explored(Result):
    """``image explore``: every layer's added, modified and deleted files, wasted bytes.
    ``template`` is ``--format``: "json" (the export), a Go template over that JSON, or
    "" for the summary table."""

    exploration: Exploration
    template: str = ""

    def text(self) -> str:
        doc = self.exploration.to_json()
        if self.template == "json":
            return json.dumps(doc, indent=2, ensure_ascii=False)
        if self.template:  # a bad template is the CLI's error, as for every --format
            return "\n".join(_render_all(self.template, [doc]))
        from .explorer import render_exploration

        return render_exploration(self.exploration)


@dataclass
class NetworkGraph(Result):
    """``network ls --graph``: networks, the containers on them with their addresses and
    aliases, and the ports they publish on the host (the layer graph's neighbour).

    ``networks``: {id, name, driver, subnet, gateway, bridge, internal};
    ``containers``: {id, name, state, mode, endpoints: [{network (ID), ip, aliases}],
    ports: ["127.0.0.1:8080->80/tcp", …]}; a container on ``container:X`` has no endpoint
    of its own and ``mode`` names X.
    """

    networks: list[dict[str, Any]]
    containers: list[dict[str, Any]]

    @classmethod
    def of(cls, g: NetworkGraphData) -> NetworkGraph:
        return cls(g.networks, g.containers)

    def text(self) -> str:
        from .netgraph import render_networks

        return render_networks(self)


@dataclass
class Build(Result):
    """``build`` (S16): the classic output was streamed as the steps ran; this keeps the
    step list (index, instruction, image, layer diffID or "" for a metadata step, size,
    cache hit, container, duration) for a front-end, and ``text()`` is the summary the
    classic builder ends with (with ``-q``: only the image ID)."""

    image_id: str
    tags: list[str]
    steps: list[dict[str, Any]]
    quiet: bool = False

    def text(self) -> str:
        if self.quiet:
            return self.image_id
        built = self.image_id.removeprefix("sha256:")[:12]
        return "\n".join([f"Successfully built {built}",
                          *(f"Successfully tagged {t}" for t in self.tags)])


@dataclass
class Streamed(Result):
    """Output already written to the front-end's stdout/stderr (run, exec, logs, save)."""

    def text(self) -> str:
        return ""
