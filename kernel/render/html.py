"""Shared bits of the HTML outputs: the one escaper, colours that read in light and dark
themes, and the few elements every view uses.

Everything here is plain HTML and inline styles that JupyterLab's sanitizer keeps, so a
saved notebook opened without its kernel (untrusted) shows the same output.
"""

from __future__ import annotations

from html import escape

# Added / changed / deleted, as `docker diff` letters; readable on either JupyterLab theme.
CHANGE_COLORS = {"A": "#16a34a", "C": "#d97706", "M": "#d97706", "D": "#dc2626"}
CHANGE_WORDS = {"A": "added", "C": "changed", "M": "modified", "D": "deleted"}
MUTED = "var(--jp-ui-font-color2, #6b7280)"
MONO = "var(--jp-code-font-family, monospace)"
BORDER = "var(--jp-border-color2, #e5e7eb)"
CHAIN_NOTE = "this layer with every layer below it; the store names layers by it"


def esc(text: object) -> str:
    """The kernel's one HTML escaper: text and attribute values alike."""
    return escape(str(text), quote=True)


def mono(text: object, title: str = "") -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<code style="font-family:{MONO};background:none"{tip}>{esc(text)}</code>'


def muted(text: object) -> str:
    return f'<span style="color:{MUTED}">{esc(text)}</span>'


def short(ident: str) -> str:
    return ident.split(":")[-1][:12]


def layer_ref(diff_id: str, chain_id: str = "") -> str:
    """A layer, named by its diffID, with both IDs in the tooltip."""
    tip = f"diffID {diff_id}" + (f"\nchainID {chain_id} ({CHAIN_NOTE})" if chain_id else "")
    return mono(short(diff_id), tip)


def badge(text: str, color: str) -> str:
    return (f'<span style="color:{color};border:1px solid {color};border-radius:4px;'
            f'padding:0 4px;white-space:nowrap">{esc(text)}</span>')


def change_letter(kind: str) -> str:
    color = CHANGE_COLORS.get(kind, MUTED)
    return (f'<b style="color:{color};font-family:{MONO}" title="{CHANGE_WORDS.get(kind, "")}">'
            f"{esc(kind)}</b>")


def caption(text: str) -> str:
    return f'<div style="color:{MUTED};font-size:90%;margin-top:2px">{text}</div>'
