"""The ``inspect`` widget: the JSON tree with a search box, built from core ipywidgets.

Core widgets need no front-end extension beyond ipywidgets' own, so the widget renders in
any JupyterLab with ipywidgets; searching is a kernel round trip (comm messages) that
re-renders the tree with only the matching branches, opened and marked.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .render.jsontree import tree_html


class JsonTree(w.VBox):
    """Collapsible, searchable view of ``doc``."""

    def __init__(self, doc: Any, title: str = "") -> None:
        self.doc = doc
        self.search = w.Text(placeholder="Search keys and values…", continuous_update=True,
                             layout=w.Layout(width="22em"))
        self.count = w.HTML()
        html, _ = tree_html(doc)
        self.tree = w.HTML(html)
        header = [w.HTML(f"<b>{title}</b>")] if title else []
        super().__init__([w.HBox([*header, self.search, self.count],
                                 layout=w.Layout(align_items="center", gap="8px")),
                          self.tree])
        self.add_class("layerlab-inspect")
        self.search.observe(self._on_search, names="value")

    def _on_search(self, change: dict[str, Any]) -> None:
        query = change["new"].strip()
        html, hits = tree_html(self.doc, query)
        self.tree.value = html
        self.count.value = f"{hits} match{'' if hits == 1 else 'es'}" if query else ""
