"""Typed command results → notebook outputs, each with the CLI's text as ``text/plain``.

Plain results (IDs, ``Loaded image:`` lines, ``--format`` output) are stream text, exactly
what a terminal shows; listings, the layer graph, ``inspect`` and ``diff`` are rich
``display_data`` bundles.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from layerlab.engine import (
    Build,
    Changes,
    Committed,
    Document,
    EngineError,
    Graph,
    History,
    Result,
    Table,
)

from .build import render_build
from .changes import render_changes
from .graph import focus, to_svg
from .jsontree import tree_html
from .tables import render_table

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@dataclass
class Output:
    """One notebook output: a mime bundle, or (``stream`` set) plain stream text."""

    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    stream: str = ""


def text_output(text: str) -> list[Output]:
    return [Output({"text/plain": text + "\n"}, stream="stdout")] if text else []


def render(result: Result, engine: Any, widget: Callable[[Any, str], str | None],
           ) -> list[Output]:
    """``widget(doc, title)`` makes an inspect widget and returns its model ID (or None)."""
    if isinstance(result, Table) and not result.template:
        files = _history_files(engine, result) if isinstance(result, History) else None
        return [Output({"text/plain": result.text(),
                        "text/html": render_table(result, files)})]
    if isinstance(result, Graph):
        return graph_output(result)
    if isinstance(result, Document) and not result.template and result.kind in (
            "container", "image", ""):
        return [_inspect_output(result, widget)]
    if isinstance(result, Changes):
        return [Output({"text/plain": result.text(), "text/html": render_changes(result)})]
    if isinstance(result, Build) and not result.quiet:
        return [Output({"text/plain": result.text(), "text/html": render_build(result)}),
                *graph_output(focus(Graph.of(engine.system.layer_graph()), result.image_id))]
    outputs = text_output(result.text())
    if isinstance(result, Committed):
        outputs += graph_output(focus(Graph.of(engine.system.layer_graph()), result.image_id))
    return outputs


def graph_output(g: Graph) -> list[Output]:
    svg = to_svg(g)
    if svg is None:
        return text_output(g.text())
    return [Output({"text/plain": g.text(), "image/svg+xml": svg})]


def _inspect_output(doc: Document, widget: Callable[[Any, str], str | None]) -> Output:
    static, _ = tree_html(doc.objects)
    data: dict[str, Any] = {"text/plain": doc.text(), "application/json": doc.objects,
                            "text/html": static}
    model_id = widget(doc.objects, doc.kind)
    if model_id:
        data[WIDGET_MIME] = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    return Output(data, {"application/json": {"expanded": False, "root": "inspect"}})


def _history_files(engine: Any, result: History) -> list[Any] | None:
    """What each history row's layer changed, for the FILES column (None if unreadable)."""
    with contextlib.suppress(EngineError, OSError):
        changes: list[Any] = engine.images.history_changes(result.image_id)
        return changes
    return None
