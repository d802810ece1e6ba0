"""Listings (``ps``, ``images``, ``history``, ``system df``, ``top``, …) as HTML tables.

The columns are exactly the CLI's (the result's default view); cells get a little meaning
through style: IDs in monospace, states as coloured badges, sizes right-aligned.
"""

from __future__ import annotations

from typing import Any

from layerlab.engine import Change, Table

from .changes import change_list, counts
from .html import BORDER, MUTED, badge, caption, change_letter, esc, mono, muted

STATE_COLORS = {"running": "#16a34a", "paused": "#d97706", "exited": "#6b7280",
                "created": "#2563eb", "dead": "#dc2626", "restarting": "#d97706"}
NUMERIC = {"Size", "TotalCount", "Active", "Reclaimable", "PID", "PPID", "UID"}
MONO_FIELDS = {"ID", "Command", "CreatedBy", "Digest", "CMD"}
NOUNS = {"ps": "container", "images": "image", "history": "step", "df": "type",
         "top": "process", "stats": "container"}
FILES_SHOWN = 300  # per layer: a big base layer lists thousands of paths


def render_table(t: Table, files: list[list[Change] | None] | None = None) -> str:
    """``files``, for ``history``: each row's layer changes, or None (no layer). The FILES
    column counts them; the list opens in a full-width row below the step."""
    heads = "".join(_th(f, h) for f, h in t.columns)
    if files is not None:
        heads += _th("", "FILES")
    body = []
    for i, row in enumerate(t.rows):
        cells = "".join(_td(f, _cell(t.kind, f, row)) for f, _ in t.columns)
        changes = files[i] if files is not None and i < len(files) else None
        if files is not None:
            cells += _td("", _files_cell(changes))
        body.append(f"<tr>{cells}</tr>")
        if changes:
            body.append(_files_row(changes, len(t.columns) + 1))
    table = (f'<table style="border-collapse:collapse;margin:0">'
             f"<thead><tr>{heads}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return table + caption(_summary(t))


def _th(field: str, header: str) -> str:
    align = "right" if field in NUMERIC else "left"
    return (f'<th style="text-align:{align};white-space:nowrap;padding:2px 10px 2px 0;'
            f'border-bottom:1px solid {BORDER}">{esc(header)}</th>')


def _td(field: str, html: str) -> str:
    align = "right" if field in NUMERIC else "left"
    return (f'<td style="text-align:{align};vertical-align:top;padding:2px 10px 2px 0">'
            f"{html}</td>")


def _cell(kind: str, field: str, row: dict[str, Any]) -> str:
    value = str(row.get(field, ""))
    if value in ("<none>", "<missing>"):
        return muted(value)
    if kind == "ps" and field == "Status":
        return badge(value, STATE_COLORS.get(str(row.get("State", "")), "#6b7280"))
    if kind == "ps" and field == "Names":
        return f"<b>{esc(value)}</b>"
    if kind == "images" and field in ("Repository", "Tag"):
        return f"<b>{esc(value)}</b>"
    if field in MONO_FIELDS:
        return mono(value)
    return esc(value)


def _files_cell(changes: list[Change] | None) -> str:
    if changes is None:
        return muted("no layer (metadata only)")
    if not changes:
        return muted("empty layer")
    return f'<span style="white-space:nowrap">{_counts(changes)}</span>'


def _counts(changes: list[Change]) -> str:
    return " ".join(f"{change_letter(k)}&nbsp;{v:,}" for k, v in counts(changes).items() if v)


def _files_row(changes: list[Change], span: int) -> str:
    """The step's layer, file by file (sorted), under the step's row, full width."""
    listing = change_list(sorted(changes, key=lambda c: c.path), FILES_SHOWN)
    return (f'<tr><td colspan="{span}" style="padding:0 0 6px 1.5em;text-align:left">'
            f'<details><summary style="cursor:pointer;color:{MUTED}">files of this step\'s '
            f"layer: {_counts(changes)}</summary>"
            f'<div style="max-height:18em;overflow:auto;font-size:90%;margin-top:2px">'
            f"{listing}</div></details></td></tr>")


def _summary(t: Table) -> str:
    n = len(t.rows)
    noun = NOUNS.get(t.kind, "row")
    text = f"{n} {noun}{'' if n == 1 else 's'}"
    if t.kind == "ps":
        running = sum(1 for r in t.rows if r.get("State") in ("running", "paused"))
        text += (f", {running} running" if n else " (<code>docker ps</code> lists the "
                 "running ones, <code>docker ps -a</code> all)")
    if t.kind == "history":
        text += (", newest first; open a step's files to see what its layer added (A), "
                 "changed (C) and deleted (D)")
    return text
