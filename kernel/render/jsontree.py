"""A JSON document as a collapsible HTML tree (``inspect``), optionally filtered by a search.

Native ``<details>`` elements make it collapsible without JavaScript, so the same HTML
works as the static fallback of a saved notebook and inside the search widget.
"""

from __future__ import annotations

import re
from typing import Any

from .html import MONO, MUTED, esc

KEY = "#7c3aed"
STRING = "#16a34a"
NUMBER = "#2563eb"
LITERAL = "#d97706"
OPEN_DEPTH = 2  # levels shown opened when nothing is searched


def tree_html(doc: Any, query: str = "") -> tuple[str, int]:
    """The tree's HTML and how many keys or values match ``query`` (case-insensitive).

    With a query, only the branches holding a match are kept, opened, matches marked."""
    pattern = re.compile(re.escape(query), re.IGNORECASE) if query else None
    html, hits = _node(None, doc, 0, pattern)
    body = html if html else f'<div style="color:{MUTED}">no match for “{esc(query)}”</div>'
    return (f'<div style="font-family:{MONO};font-size:var(--jp-code-font-size,13px);'
            f'line-height:1.45">{body}</div>'), hits


def _mark(text: str, pattern: re.Pattern[str] | None) -> tuple[str, int]:
    if pattern is None:
        return esc(text), 0
    parts, hits, last = [], 0, 0
    for m in pattern.finditer(text):
        parts += [esc(text[last:m.start()]), f"<mark>{esc(m.group())}</mark>"]
        last, hits = m.end(), hits + 1
    parts.append(esc(text[last:]))
    return "".join(parts), hits


def _key(key: str | int | None, pattern: re.Pattern[str] | None) -> tuple[str, int]:
    if key is None:
        return "", 0
    if isinstance(key, int):
        return f'<span style="color:{MUTED}">{key}</span>: ', 0
    html, hits = _mark(key, pattern)
    return f'<span style="color:{KEY}">"{html}"</span>: ', hits


def _scalar(value: Any, pattern: re.Pattern[str] | None) -> tuple[str, int]:
    if isinstance(value, str):
        html, hits = _mark(value, pattern)
        return f'<span style="color:{STRING}">"{html}"</span>', hits
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) \
        else str(value)
    html, hits = _mark(text, pattern)
    color = NUMBER if isinstance(value, int | float) and not isinstance(value, bool) else LITERAL
    return f'<span style="color:{color}">{html}</span>', hits


def _node(key: str | int | None, value: Any, depth: int,
          pattern: re.Pattern[str] | None) -> tuple[str, int]:
    """(html, hits); html is "" when a search is on and nothing below matches."""
    key_html, key_hits = _key(key, pattern)
    if not isinstance(value, dict | list):
        html, hits = _scalar(value, pattern)
        hits += key_hits
        if pattern is not None and not hits:
            return "", 0
        return f"<div>{key_html}{html}</div>", hits
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    # a matching key keeps its whole subtree
    sub_pattern = None if (pattern is not None and key_hits) else pattern
    children, hits = [], key_hits
    for k, v in items:
        html, n = _node(k, v, depth + 1, sub_pattern)
        hits += n
        if html:
            children.append(html)
    if pattern is not None and not hits:
        return "", 0
    brackets = "{}" if isinstance(value, dict) else "[]"
    if not items:
        return f"<div>{key_html}{brackets}</div>", hits
    size = f"{len(items)} {'key' if isinstance(value, dict) else 'item'}" \
           f"{'' if len(items) == 1 else 's'}"
    opened = " open" if (pattern is not None or depth < OPEN_DEPTH) else ""
    return (f"<details{opened}><summary style=\"cursor:pointer\">{key_html}{brackets[0]}"
            f'<span style="color:{MUTED}"> {size} </span>{brackets[1]}</summary>'
            f'<div style="margin-left:1.4em">{"".join(children)}</div></details>'), hits
