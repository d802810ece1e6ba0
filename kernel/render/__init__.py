"""Typed command results → notebook outputs, each with the CLI's text as ``text/plain``.

Plain results (IDs, ``Loaded image:`` lines, ``--format`` output) are stream text, exactly
what a terminal shows; listings, the layer graph, ``inspect`` and ``diff`` are rich
``display_data`` bundles.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from layerlab.engine import (
    Build,
    Changes,
    Committed,
    Document,
    EngineError,
    Explored,
    Graph,
    History,
    NetworkGraph,
    Result,
    Table,
)

from .build import render_build
from .changes import render_changes
from .explore import render_explore
from .graph import focus
from .graphview import Drawing, draw, draw_networks, graph_html
from .jsontree import inspect_html
from .netgraph import LEGEND as NETWORK_LEGEND
from .tables import render_table


@dataclass
class Output:
    """One notebook output: a mime bundle, or (``stream`` set) plain stream text."""

    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    stream: str = ""


def text_output(text: str) -> list[Output]:
    return [Output({"text/plain": text + "\n"}, stream="stdout")] if text else []


def render(result: Result, engine: Any) -> list[Output]:
    """The outputs of a command's result, chosen by the result's type alone."""
    if isinstance(result, Table) and not result.template:
        files = _history_files(engine, result) if isinstance(result, History) else None
        return [Output({"text/plain": result.text(),
                        "text/html": render_table(result, files)})]
    if isinstance(result, Graph):
        return graph_output(result)
    if isinstance(result, NetworkGraph):
        return network_graph_output(result)
    if isinstance(result, Document) and not result.template and result.kind in (
            "container", "image", ""):
        return [_inspect_output(result)]
    if isinstance(result, Explored) and not result.template:
        return [Output({"text/plain": result.text(), "text/html": render_explore(result)})]
    if isinstance(result, Changes):
        return [Output({"text/plain": result.text(), "text/html": render_changes(result)})]
    if isinstance(result, Build) and not result.quiet:
        return [Output({"text/plain": result.text(), "text/html": render_build(result)}),
                *_image_graph(engine, result.image_id)]
    outputs = text_output(result.text())
    if isinstance(result, Committed):
        outputs += _image_graph(engine, result.image_id)
    return outputs


def graph_output(g: Graph, full: Graph | None = None) -> list[Output]:
    """The layer graph. ``full``: the whole graph ``g`` is part of ("shared by N")."""
    return _drawn(g.text(), draw(g, full))


def network_graph_output(g: NetworkGraph) -> list[Output]:
    """The network graph, drawn as the layer graph is."""
    return _drawn(g.text(), draw_networks(g), NETWORK_LEGEND)


def _drawn(text: str, drawing: Drawing | None, legend: str = "") -> list[Output]:
    """HTML that survives a reload, the SVG for other front-ends, the CLI's tree as text
    (alone when ``dot`` could not draw)."""
    if drawing is None:
        return text_output(text)
    return [Output({"text/plain": text, "text/html": graph_html(drawing, legend),
                    "image/svg+xml": drawing.svg})]


def _image_graph(engine: Any, image_id: str) -> list[Output]:
    """After ``commit``/``build``: the new image's layer stack, sharing counted on all."""
    full = Graph.of(engine.system.layer_graph())
    return graph_output(focus(full, image_id), full)


def _inspect_output(doc: Document) -> Output:
    data: dict[str, Any] = {"text/plain": doc.text(), "text/html": inspect_html(
        doc.objects, f"inspect {doc.kind}" if doc.kind else "inspect")}
    return Output(data)


def _history_files(engine: Any, result: History) -> list[Any] | None:
    """What each history row's layer changed, for the FILES column (None if unreadable)."""
    with contextlib.suppress(EngineError, OSError):
        changes: list[Any] = engine.images.history_changes(result.image_id)
        return changes
    return None
