"""Typed results of commands: what the CLI prints as text and the kernel renders richly.

Every result has ``text()``, the exact plain-text output of the CLI; the notebook shows it
as the ``text/plain`` twin of its rich output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
        from .. import gotemplate  # only listings need it; keeps `docker run` start-up short

        is_table, body = gotemplate.split_table(self.template or self.default_template())
        tmpl = gotemplate.parse(body)
        lines = [tmpl.render(r) for r in self.rows]
        if not is_table:
            return "\n".join(lines)
        header = tmpl.render({f: h for f, h in self.all_headers().items()})
        return tabulate([header, *lines])

    def all_headers(self) -> dict[str, str]:
        headers = {f: h for f, h in self.columns}
        for row in self.rows[:1]:
            for key in row:
                headers.setdefault(key, _header_of(key))
        return headers


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
    """``inspect``: JSON objects (or a ``--format`` rendering of each)."""

    objects: list[Any]
    kind: str = ""  # "container" or "image" when all objects are of one kind
    template: str = ""

    def text(self) -> str:
        if self.template:
            from .. import gotemplate

            tmpl = gotemplate.parse(self.template)
            return "\n".join(tmpl.render(o) for o in self.objects)
        return json.dumps(self.objects, indent=4, ensure_ascii=False)


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
        if self.template:
            from .. import gotemplate

            return gotemplate.parse(self.template).render(doc)
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
