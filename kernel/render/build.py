"""``build`` (S16) as a live step list, updated in place while the Dockerfile runs.

The builder streams Docker's classic output (``Step 2/5 : RUN …``, `` ---> Using cache``,
`` ---> 1f2e3d…``). The view reads those lines as they come: the step lines become rows
of the list, anything else (a RUN's own output) is passed on to the cell's stream. When
the build ends, the list is redrawn from the result's step records, with each step's
layer, size, duration and cache hits.
"""

from __future__ import annotations

import re
from typing import Any

from layerlab.engine import Build, human

from .html import MONO, badge, caption, esc, mono, muted

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
ARROW = re.compile(r"^ ---> (.*)$")
BOOKKEEPING = re.compile(r"^(Removing intermediate container |Successfully (built|tagged) )")
RUNNING, CACHED, DONE, FAILED, BASE = "running", "cached", "done", "failed", "base"
COLORS = {RUNNING: "#2563eb", CACHED: "#7c3aed", DONE: "#16a34a", FAILED: "#dc2626",
          BASE: "#6b7280"}
LABELS = {RUNNING: "running…", CACHED: "cache", DONE: "built", FAILED: "failed",
          BASE: "base"}


class BuildView:
    """Parses the classic output; ``rows`` is the live step list."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.partial = ""
        self.plain: list[str] = []  # the step lines, the list's text/plain

    def feed(self, text: str) -> str:
        """Take output text; return what is not step bookkeeping (RUN output)."""
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        passed = []
        for line in lines:
            if not self._step_line(line):
                passed.append(line + "\n")
        return "".join(passed)

    def _step_line(self, line: str) -> bool:
        if m := STEP.match(line):
            self._finish_running(DONE)
            self.total = int(m.group(2))
            self.rows.append({"index": int(m.group(1)), "instruction": m.group(3),
                              "status": RUNNING, "image": "", "container": ""})
        elif (m := ARROW.match(line)) and self.rows:
            what = m.group(1)
            row = self.rows[-1]
            if what == "Using cache":
                row["status"] = CACHED
            elif what.startswith("Running in "):
                row["container"] = what.removeprefix("Running in ")
            else:
                row["image"] = what
                if row["status"] == RUNNING:
                    row["status"] = DONE
        elif not BOOKKEEPING.match(line):
            return False
        self.plain.append(line)
        return True

    def _finish_running(self, status: str) -> None:
        for row in self.rows:
            if row["status"] == RUNNING and (row["image"] or status == FAILED):
                row["status"] = status

    def failed(self) -> None:
        for row in self.rows:
            if row["status"] == RUNNING:
                row["status"] = FAILED

    def html(self) -> str:
        rows = "".join(
            _row(f"{r['index']}/{self.total}", r["instruction"], r["status"],
                 mono(r["image"]) if r["image"] else muted(f"in {r['container']}"
                                                           if r["container"] else ""),
                 "", "") for r in self.rows)
        done = sum(r["status"] in (DONE, CACHED) for r in self.rows)
        return _table(rows) + caption(f"building: {done} of {self.total or '?'} steps done")

    def text(self) -> str:
        return "\n".join(self.plain)


def _row(step: str, instruction: str, status: str, image: str, layer: str,
         size: str) -> str:
    if status == DONE and instruction.upper().startswith("FROM "):
        status = BASE  # the stage's base image: nothing was built
    cells = [muted(step), f'<code style="font-family:{MONO};background:none">'
             f"{esc(instruction)}</code>", badge(LABELS[status], COLORS[status]), image,
             layer, size]
    return "<tr>" + "".join(f'<td style="text-align:left;vertical-align:top;padding:2px '
                            f'10px 2px 0">{c}</td>' for c in cells) + "</tr>"


def _table(rows: str) -> str:
    heads = "".join(f'<th style="text-align:left;padding:2px 10px 2px 0">{h}</th>'
                    for h in ("STEP", "INSTRUCTION", "", "IMAGE", "LAYER", "SIZE · TIME"))
    return (f'<table style="border-collapse:collapse;margin:0"><thead><tr>{heads}</tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def render_build(result: Build) -> str:
    """The finished build: every step with its image, layer (or none), size, cache hit."""
    total = len(result.steps)
    rows = []
    for s in result.steps:
        layer = s.get("layer") or ""
        rows.append(_row(
            f"{s.get('index', '?')}/{total}", s.get("instruction", ""),
            CACHED if s.get("cached") else DONE,
            mono(str(s.get("image", "")).removeprefix("sha256:")[:12]),
            mono(layer.removeprefix("sha256:")[:12]) if layer else muted("no layer"),
            f"{human.size(s.get('size', 0))} · {s.get('duration', 0):.1f}s" if layer
            else f"{s.get('duration', 0):.1f}s"))
    cached = sum(bool(s.get("cached")) for s in result.steps)
    built = result.image_id.removeprefix("sha256:")[:12]
    tags = ", ".join(result.tags) or "untagged"
    return _table("".join(rows)) + caption(
        f"built <b>{esc(built)}</b> ({esc(tags)}): {total} steps, {cached} from the cache; "
        "each step with a layer is also an intermediate image (<code>docker images -a</code>)")
