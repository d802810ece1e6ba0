"""Text of ``docker image explore``: the summary, the layers, the most wasteful paths."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..oci.digest import short
from . import human
from .results import tabulate

if TYPE_CHECKING:
    from ..services.explore import Exploration


def render_exploration(x: Exploration) -> str:
    name = ", ".join(x.tags) or short(x.image_id)
    lines = [f"Image {name} ({short(x.image_id)}): {len(x.layers)} layers, "
             f"{human.size(x.stored)} stored, {human.size(x.visible)} visible, "
             f"{human.size(x.wasted)} wasted (efficiency {math.floor(1000 * x.efficiency) / 10} %)",
             ""]
    rows = ["LAYER\tDIFF ID\tSIZE\tADDED\tMODIFIED\tDELETED\tCREATED BY"]
    for r in x.layers:
        n = r.counts()
        made = r.created_by if len(r.created_by) <= 60 else r.created_by[:59] + "…"
        rows.append(f"{r.index}\t{short(r.diff_id)}\t{human.size(r.size)}\t{n['A']}\t"
                    f"{n['M']}\t{n['D']}\t{made}")
    lines.append(tabulate(rows))
    if x.wasteful:
        lines += ["", "Wasted bytes (stored in a layer, not visible in the image):"]
        rows = ["PATH\tWASTED\tWRITTEN IN LAYER\tDELETED IN LAYER"]
        rows += [f"{w.path}\t{human.size(w.wasted)}\t{', '.join(map(str, w.written_by))}\t"
                 f"{w.deleted_by or '-'}" for w in x.wasteful]
        lines.append(tabulate(rows))
    lines += ["", "Every layer's files: docker image explore --format json IMAGE"]
    return "\n".join(lines)
