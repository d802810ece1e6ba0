"""Shared bits of the HTML outputs: escaping, colours that read in light and dark themes."""

from __future__ import annotations

from html import escape

# Added / changed / deleted, as `docker diff` letters; readable on either JupyterLab theme.
CHANGE_COLORS = {"A": "#16a34a", "C": "#d97706", "D": "#dc2626"}
CHANGE_WORDS = {"A": "added", "C": "changed", "D": "deleted"}
MUTED = "var(--jp-ui-font-color2, #6b7280)"
MONO = "var(--jp-code-font-family, monospace)"
BORDER = "var(--jp-border-color2, #e5e7eb)"


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def mono(text: object) -> str:
    return f'<code style="font-family:{MONO};background:none">{esc(text)}</code>'


def muted(text: object) -> str:
    return f'<span style="color:{MUTED}">{esc(text)}</span>'


def badge(text: str, color: str) -> str:
    return (f'<span style="color:{color};border:1px solid {color};border-radius:4px;'
            f'padding:0 4px;white-space:nowrap">{esc(text)}</span>')


def change_letter(kind: str) -> str:
    color = CHANGE_COLORS.get(kind, MUTED)
    return (f'<b style="color:{color};font-family:{MONO}" title="{CHANGE_WORDS.get(kind, "")}">'
            f"{esc(kind)}</b>")


def caption(text: str) -> str:
    return f'<div style="color:{MUTED};font-size:90%;margin-top:2px">{text}</div>'
