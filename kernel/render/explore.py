"""``docker image explore``: the layer explorer as static HTML.

One ``<details>`` per layer, bottom first: its summary line (diffID, size, how many paths
it added, modified and deleted, the step that made it) opens on the layer's changes,
sorted, and on the union of the files up to that layer as a folding tree in which what
this layer wrote is marked. Above, the image's efficiency and wasted bytes; below, the
paths that waste the most with the layers that wrote and deleted them. Plain ``<details>``
and inline styles: a reopened notebook shows it whole, with or without trust or kernel.
"""

from __future__ import annotations

import math
from typing import Any

from layerlab.engine import Explored, human

from .html import BORDER, MONO, MUTED, caption, change_letter, esc, layer_ref, muted

ENTRIES_SHOWN = 200  # per directory in a union tree: /bin alone holds hundreds of links
CHANGES_SHOWN = 500  # per layer
VIA = {"whiteout": "whiteout", "opaque": "opaque directory"}


def render_explore(result: Explored) -> str:
    x = result.exploration
    name = ", ".join(x.tags) or x.image_id.split(":")[-1][:12]
    pct = math.floor(1000 * x.efficiency) / 10  # 4 bytes wasted is not "100.0 %"
    bar = (f'<div style="display:inline-block;width:12em;height:0.7em;border:1px solid '
           f'{BORDER};vertical-align:middle;margin:0 6px"><div style="width:{pct:.1f}%;'
           'height:100%;background:#16a34a"></div></div>')
    head = (f"<div><b>{esc(name)}</b>: {len(x.layers)} layers · "
            f"{esc(human.size(x.stored))} stored · {esc(human.size(x.visible))} visible · "
            f"<b>{esc(human.size(x.wasted))} wasted</b> · efficiency {bar}"
            f"<b>{pct:.1f} %</b></div>")
    layers = "".join(_layer(r, len(x.layers)) for r in x.layers)
    return (f'<div class="layerlab-explore">{head}'
            f'<div style="margin-top:6px">{layers}</div>{_wasteful(x)}'
            + caption("A added, M modified, D deleted (by a whiteout, or by an opaque "
                      "directory that hides everything the layers below had in it). "
                      "Wasted: bytes a layer stores that the image cannot show — a later "
                      "layer deleted or replaced them; they still travel with every pull "
                      "and save. Layers by diffID (hover for the chainID). "
                      "<code>docker image explore --format json IMAGE &gt; layers.json"
                      "</code> exports every change.") + "</div>")


def _layer(r: Any, total: int) -> str:
    n = r.counts()
    counts = " ".join(f"{change_letter(k)}&nbsp;{v:,}" for k, v in n.items())
    made = r.created_by or "(no history entry)"
    summary = (f'<summary style="cursor:pointer;padding:2px 0">'
               f'<span style="display:inline-block;min-width:3em">{muted(f"{r.index}/{total}")}'
               f"</span>{layer_ref(r.diff_id, r.chain_id)} "
               f'<span style="display:inline-block;min-width:5em;text-align:right">'
               f"{esc(human.size(r.size))}</span>&nbsp; {counts} &nbsp;"
               f'<code style="font-family:{MONO};background:none">{esc(_cut(made, 64))}</code>'
               "</summary>")
    changes = _changes(r.changes)
    tree = _tree(r.files, r.index)
    body = (f'<div style="margin:2px 0 8px 3em;font-size:95%">'
            f"<div><b>Changes</b> (what this layer's tar holds, against {_below(r.index)})"
            f"</div>{changes}"
            f'<details style="margin-top:4px"><summary style="cursor:pointer"><b>Files after '
            f"this layer</b> (the union of layers 1–{r.index}; this layer's marked)</summary>"
            f"{tree}</details></div>")
    return (f'<details style="border-top:1px solid {BORDER}">{summary}{body}</details>')


def _below(index: int) -> str:
    return "an empty filesystem" if index == 1 else "layer 1" if index == 2 else \
        f"layers 1–{index - 1}"


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _changes(changes: list[Any]) -> str:
    if not changes:
        return muted("no files (an empty layer)")
    shown = changes[:CHANGES_SHOWN]
    rows = []
    for c in shown:
        note = f" ({VIA[c.via]}; hid {human.size(c.size)})" if c.kind == "D" else (
            f" {human.size(c.size)}" if c.type == "file" else f" {c.type}")
        rows.append(f"<div>{change_letter(c.kind)} {esc(c.path)}"
                    f'<span style="color:{MUTED}">{esc(note)}</span></div>')
    if len(changes) > len(shown):
        rows.append(muted(f"… {len(changes) - len(shown):,} more (--format json lists all)"))
    return (f'<div style="font-family:{MONO};white-space:pre;max-height:24em;overflow:auto">'
            f"{''.join(rows)}</div>")


def _tree(files: dict[str, Any], index: int) -> str:
    children: dict[str, list[str]] = {}
    for path in files:
        parent = path.rpartition("/")[0]
        children.setdefault(parent, []).append(path)
    sizes: dict[str, int] = {}
    for path in sorted(files, key=lambda p: -p.count("/")):
        entry = files[path]
        sizes[path] = sizes.get(path, 0) + entry.size
        parent = path.rpartition("/")[0]
        if path:
            sizes[parent] = sizes.get(parent, 0) + sizes[path]

    def node(path: str) -> str:
        entry = files.get(path)
        name = esc(path.rpartition("/")[2])
        label = f"<b>{name}</b>" if entry is not None and entry.layer == index else name
        size = f" <small>{human.size(sizes.get(path, 0))}</small>"
        kids = sorted(children.get(path, []))
        if (entry is not None and entry.type != "dir") or not kids:
            kind = {"file": "", "dir": "/"}.get(entry.type, f" ({entry.type})") if entry else "/"
            return f"<div>{label}{kind}{size}</div>"
        shown = "".join(node(k) for k in kids[:ENTRIES_SHOWN])
        if len(kids) > ENTRIES_SHOWN:
            shown += f"<div>… {len(kids) - ENTRIES_SHOWN:,} more</div>"
        return (f"<details><summary>{label}/{size}</summary>"
                f'<div style="margin-left:1.2em">{shown}</div></details>')

    top = "".join(node(k) for k in sorted(children.get("", [])))
    return (f'<div style="font-family:{MONO};max-height:30em;overflow:auto">{top}</div>'
            + caption("bold: written by this layer; sizes include what is inside"))


def _wasteful(x: Any) -> str:
    if not x.wasteful:
        return caption("No wasted bytes: every byte a layer stores is visible in the image.")
    rows = "".join(
        f'<tr><td style="font-family:{MONO};text-align:left;padding:1px 12px 1px 0">'
        f"{esc(w.path)}</td>"
        f'<td style="text-align:right;padding:1px 12px 1px 0">{esc(human.size(w.wasted))}</td>'
        f'<td style="text-align:left;padding:1px 12px 1px 0">'
        f'{esc(", ".join(map(str, w.written_by)))}</td>'
        f'<td style="text-align:left">{esc(w.deleted_by or "—")}</td></tr>' for w in x.wasteful)
    heads = "".join(f'<th style="text-align:left;padding:1px 12px 1px 0;border-bottom:1px '
                    f'solid {BORDER}">{h}</th>' for h in ("WASTED BY PATH", "BYTES",
                                                         "WRITTEN IN LAYER",
                                                         "DELETED IN LAYER"))
    return (f'<table style="border-collapse:collapse;margin-top:8px;font-size:95%"><thead>'
            f"<tr>{heads}</tr></thead><tbody>{rows}</tbody></table>")
