"""``build`` (S16) as a step list: live while the Dockerfile runs, then the finished build.

The builder hands the kernel typed progress events (``layerlab.engine.Progress``), each
with the record of the step it belongs to: the live list is drawn from those records, never
from the printed text. When the build ends, the list is redrawn from the result's step
records, with each step's layer, size, duration and cache hits.

Layers are named by **diffID** (the digest of the layer's content, as ``docker inspect``
lists them in ``RootFS.Layers`` and the layer graph labels them); the chainID (that layer
with every layer below it, the name the store gives it) is in each cell's tooltip.
"""

from __future__ import annotations

from typing import Any

from layerlab.engine import Build, Progress, human

from .html import MONO, badge, caption, esc, layer_ref, mono, muted

RUNNING, CACHED, DONE, FAILED, BASE = "running", "cached", "done", "failed", "base"
COLORS = {RUNNING: "#2563eb", CACHED: "#7c3aed", DONE: "#16a34a", FAILED: "#dc2626",
          BASE: "#6b7280"}
LABELS = {RUNNING: "running…", CACHED: "cache", DONE: "built", FAILED: "failed",
          BASE: "base"}
HEADS = ("STEP", "INSTRUCTION", "", "IMAGE", "LAYER (diffID)", "SIZE · TIME")


class BuildView:
    """The live step list, from the builder's progress events."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}  # step index → its latest record
        self.finished: set[int] = set()
        self.total = 0
        self.plain: list[str] = []  # the classic lines (no RUN output): the text twin

    def take(self, event: Progress) -> None:
        """A step began, ended or said something (RUN output goes to the stream)."""
        self.plain.append(event.text.rstrip("\n"))
        rec = event.step
        if rec is None or rec.get("trigger"):  # an ONBUILD trigger runs within its FROM
            return
        index = rec["index"]
        if event.kind == "step":
            self.finished.update(i for i in self.rows if i != index)
        if event.kind == "done":
            self.finished.add(index)
        self.rows[index] = rec
        self.total = rec.get("total") or self.total

    def failed(self) -> None:
        """The build stopped: the step that was running is the one that failed."""
        for index in self.rows:
            if index not in self.finished:
                self.rows[index] = {**self.rows[index], "failed": True}

    def status(self, rec: dict[str, Any]) -> str:
        if rec.get("failed"):
            return FAILED
        if rec.get("cached"):
            return CACHED
        return DONE if rec["index"] in self.finished else RUNNING

    def html(self) -> str:
        rows = []
        for index in sorted(self.rows):
            rec = self.rows[index]
            status = self.status(rec)
            where = (muted(f"in {rec['container'][:12]}") if rec.get("container")
                     and status == RUNNING else _image(rec))
            rows.append(_row(f"{index}/{self.total or '?'}", rec, status, where,
                             _layer(rec) if status != RUNNING else "", ""))
        done = sum(self.status(r) in (DONE, CACHED) for r in self.rows.values())
        return _table("".join(rows)) + caption(
            f"building: {done} of {self.total or '?'} steps done; each RUN step's output "
            "streams below, under its <code>Step</code> line")

    def text(self) -> str:
        return "\n".join(self.plain)


def _image(rec: dict[str, Any]) -> str:
    image = str(rec.get("image") or "")
    return mono(image.removeprefix("sha256:")[:12]) if image else ""


def _layer(rec: dict[str, Any]) -> str:
    if not rec.get("layer"):
        return muted("no layer")
    return layer_ref(rec["layer"], rec.get("chain_id", ""))


def _row(step: str, rec: dict[str, Any], status: str, image: str, layer: str,
         size: str) -> str:
    instruction = str(rec.get("instruction", ""))
    if status == DONE and instruction.upper().startswith("FROM "):
        status = BASE  # the stage's base image: nothing was built
    cells = [muted(step), f'<code style="font-family:{MONO};background:none">'
             f"{esc(instruction)}</code>", badge(LABELS[status], COLORS[status]), image,
             layer, size]
    return "<tr>" + "".join(f'<td style="text-align:left;vertical-align:top;padding:2px '
                            f'10px 2px 0">{c}</td>' for c in cells) + "</tr>"


def _table(rows: str) -> str:
    heads = "".join(f'<th style="text-align:left;padding:2px 10px 2px 0">{h}</th>'
                    for h in HEADS)
    return (f'<table style="border-collapse:collapse;margin:0"><thead><tr>{heads}</tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def render_build(result: Build) -> str:
    """The finished build: every step with its image, layer (or none), size, cache hit."""
    steps = [s for s in result.steps if not s.get("trigger")]
    total = len(steps)
    rows = []
    for s in steps:
        duration = f"{s.get('duration', 0):.1f}s"
        rows.append(_row(f"{s.get('index', '?')}/{total}", s,
                         CACHED if s.get("cached") else DONE, _image(s), _layer(s),
                         f"{human.size(s.get('size', 0))} · {duration}" if s.get("layer")
                         else duration))
    cached = sum(bool(s.get("cached")) for s in steps)
    built = result.image_id.removeprefix("sha256:")[:12]
    tags = ", ".join(result.tags) or "untagged"
    return _table("".join(rows)) + caption(
        f"built <b>{esc(built)}</b> ({esc(tags)}): {total} steps, {cached} from the cache; "
        "each step with a layer is also an intermediate image (<code>docker images -a</code>); "
        "layers by diffID, as <code>docker inspect</code> lists them (hover for the chainID)")
