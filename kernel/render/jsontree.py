"""``inspect``: the JSON document as a collapsible HTML tree, with a search box.

The tree is native ``<details>`` elements, so it folds without JavaScript: a saved notebook
reopened without its kernel, trusted or not, shows it as it was. The search box is the live
enhancement: a small script (``resources/treesearch.js``) that filters the tree in the
browser. It runs wherever JupyterLab runs trusted output (a live kernel's outputs, a
notebook JupyterLab saved and signed), needs no kernel round trip, so it keeps working
after a kernel restart; untrusted, the sanitizer drops it and the box stays disabled.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from .html import MONO, MUTED, esc

KEY = "#7c3aed"
STRING = "#16a34a"
NUMBER = "#2563eb"
LITERAL = "#d97706"
OPEN_DEPTH = 2  # levels shown opened


@cache
def _script() -> str:
    return resources.files("layerlab.kernel").joinpath("resources/treesearch.js").read_text()


def inspect_html(doc: Any, title: str) -> str:
    """The tree under a header with the title and the search box."""
    header = (f'<div style="display:flex;align-items:center;gap:8px;margin-bottom:4px">'
              f"<b>{esc(title)}</b>"
              '<input class="ll-search" type="search" disabled style="width:22em" '
              'placeholder="Search (needs a trusted notebook)">'
              f'<span class="ll-count" style="color:{MUTED}"></span></div>')
    return (f'<div class="layerlab-inspect">{header}<div class="ll-tree">{tree_html(doc)}'
            f"</div><script>{_script()}</script></div>")


def tree_html(doc: Any) -> str:
    return (f'<div style="font-family:{MONO};font-size:var(--jp-code-font-size,13px);'
            f'line-height:1.45">{_node(None, doc, 0)}</div>')


def _key(key: str | int | None) -> str:
    if key is None:
        return ""
    if isinstance(key, int):
        return f'<span style="color:{MUTED}">{key}</span>: '
    return f'<span style="color:{KEY}">"{esc(key)}"</span>: '


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return f'<span style="color:{STRING}">"{esc(value)}"</span>'
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) \
        else str(value)
    color = NUMBER if isinstance(value, int | float) and not isinstance(value, bool) else LITERAL
    return f'<span style="color:{color}">{esc(text)}</span>'


def _node(key: str | int | None, value: Any, depth: int) -> str:
    if not isinstance(value, dict | list):
        return f'<div class="ll-row">{_key(key)}{_scalar(value)}</div>'
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    brackets = "{}" if isinstance(value, dict) else "[]"
    if not items:
        return f'<div class="ll-row">{_key(key)}{brackets}</div>'
    size = f"{len(items)} {'key' if isinstance(value, dict) else 'item'}" \
           f"{'' if len(items) == 1 else 's'}"
    children = "".join(_node(k, v, depth + 1) for k, v in items)
    opened = " open" if depth < OPEN_DEPTH else ""
    return (f'<details{opened}><summary style="cursor:pointer"><span class="ll-row">'
            f'{_key(key)}{brackets[0]}</span><span style="color:{MUTED}"> {size} </span>'
            f'{brackets[1]}</summary><div style="margin-left:1.4em">{children}</div>'
            "</details>")
