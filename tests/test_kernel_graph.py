"""The layer graph's drawing, without a kernel: it fits a notebook's width at 20+ images
and containers, "shared by N" has one definition, every node carries its tooltip."""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest
from layerlab.engine import Graph
from layerlab.kernel.render import graph_output
from layerlab.kernel.render.graph import focus, users
from layerlab.kernel.render.graphview import MAX_WIDTH_PT, draw

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is missing")


def h(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def layer(name: str, parent: str = "", size: int = 1000) -> dict:
    return {"id": h("chain" + name), "diff_id": h("diff" + name),
            "parent": h("chain" + parent) if parent else "", "size": size}


def image(name: str, top: str, tags: list[str], intermediate: bool = False) -> dict:
    return {"id": h("image" + name), "tags": tags, "top": h("chain" + top), "parent": "",
            "intermediate": intermediate, "created_by": f"RUN make {name}"}


def container(name: str, top: str) -> dict:
    return {"id": h("c" + name), "name": name, "top": h("chain" + top), "state": "running",
            "image": "", "rw_size": 12}


def class_room(apps: int, containers: int) -> Graph:
    """busybox, and ``apps`` images built on it in three steps each, with containers."""
    layers = [layer("base", size=2_000_000)]
    images = [image("base", "base", ["busybox:latest"])]
    for i in range(apps):
        for j in range(3):
            layers.append(layer(f"{i}.{j}", f"{i}.{j - 1}" if j else "base"))
            images.append(image(f"{i}.{j}", f"{i}.{j}", [f"app{i}:1"] if j == 2 else [],
                                intermediate=j < 2))
    cs = [container(f"web{k}", f"{k}.2" if k % 2 else "base") for k in range(containers)]
    return Graph(layers, images, cs)


@pytest.mark.parametrize("apps, containers", [(2, 1), (12, 8), (24, 10)])
def test_the_graph_fits_a_notebook(apps: int, containers: int) -> None:
    d = draw(class_room(apps, containers))
    assert d is not None
    assert d.width <= MAX_WIDTH_PT, (d.layout, d.width)  # shown at full size: fonts as set
    assert {s.node.key for s in d.spots} == {n.key for n in d.picture.nodes}
    if apps <= 2:
        assert d.layout == "as it is" and not d.picture.folded_layers


def test_shared_by_n_is_one_definition() -> None:
    full = class_room(3, 2)
    base = h("chainbase")
    # busybox, app0..app2 and both containers hold busybox's layer
    assert len(users(full)[base]) == 6
    part = focus(full, h("image0.2"))
    assert len(users(part)[base]) < 6  # the focused part alone would count fewer …
    (out,) = graph_output(part, full)  # … so the drawing counts on the whole graph
    assert "shared by 6" in out.data["image/svg+xml"]
    (whole,) = graph_output(full)
    assert "shared by 6" in whole.data["image/svg+xml"]


def test_nodes_carry_both_ids_and_labels_are_escaped() -> None:
    g = class_room(1, 0)
    g.images[0]["tags"] = ['we<ird>&"tag']
    (out,) = graph_output(g)
    html = out.data["text/html"]
    assert out.data["text/plain"] == g.text()
    titles = re.findall(r'<span title="([^"]*)"', html)
    assert len(titles) == len(draw(g).spots)  # type: ignore[union-attr]
    layer_tip = next(t for t in titles if t.startswith("read-only layer"))
    assert "diffID sha256:" in layer_tip and "chainID sha256:" in layer_tip
    assert "we&lt;ird&gt;&amp;&quot;tag" in html  # the tooltip, escaped once
    assert "we&lt;ird&gt;&amp;&quot;tag" in out.data["image/svg+xml"]  # dot got valid DOT
