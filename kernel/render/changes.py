"""``docker diff``: the RW layer's A/C/D entries, coloured, with whiteouts explained (S4)."""

from __future__ import annotations

from collections.abc import Iterable

from layerlab.engine import Change, Changes

from .html import MONO, caption, change_letter, esc

WHITEOUT_NOTE = (
    "D: the file comes from a read-only image layer, which is never modified; the "
    "container's read-write layer records a <i>whiteout</i> that hides it instead "
    "(overlayfs: a 0/0 character device in the upper directory; in a committed layer tar: "
    "an OCI <code>.wh.NAME</code> entry)."
)


def change_list(changes: Iterable[Change], limit: int = 0) -> str:
    """One line per entry, letter coloured; past ``limit`` entries, a count instead."""
    changes = list(changes)
    shown = changes[:limit] if limit else changes
    rows = "".join(f"<div>{change_letter(c.kind)} {esc(c.path)}"
                   + (' <span style="opacity:.6">(whiteout)</span>' if c.kind == "D" else "")
                   + "</div>" for c in shown)
    more = len(changes) - len(shown)
    if more:
        rows += f"<div>… {more:,} more</div>"
    return f'<div style="font-family:{MONO};white-space:pre">{rows}</div>'


def counts(changes: Iterable[Change]) -> dict[str, int]:
    out = {"A": 0, "C": 0, "D": 0}
    for c in changes:
        out[c.kind] = out.get(c.kind, 0) + 1
    return out


def render_changes(result: Changes) -> str:
    n = counts(result.changes)
    summary = (f"container <b>{esc(result.container)}</b>: {n['A']} added, {n['C']} changed, "
               f"{n['D']} deleted — all in its read-write layer; the image's layers are "
               "untouched")
    if not result.changes:
        return caption(f"container <b>{esc(result.container)}</b>: no changes yet — its "
                       "read-write layer is empty")
    body = change_list(result.changes)
    notes = [summary, "C on a directory: something inside it was added or removed."]
    if n["D"]:
        notes.append(WHITEOUT_NOTE)
    return body + "".join(caption(x) for x in notes)
