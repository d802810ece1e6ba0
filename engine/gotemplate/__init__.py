"""Go ``text/template`` subset for Docker-style ``--format`` strings.

Docker renders ``docker ps/images/inspect/history --format`` with Go's
text/template plus a few helpers (``json``, ``join``, ``upper`` ...).  People
copy those strings from Docker's docs and from their own scripts, so this
package follows Go's syntax, value formatting and error wording instead of
inventing a dialect of its own.

Data is plain Python: dicts stand in for Go maps and structs, lists for
slices and ``None`` for nil; attributes of other objects (dataclasses) are
reachable as fields.  A missing dict key is Go's "invalid value": it prints
as ``<no value>`` and becomes nil when passed to a function, unless the template
runs with Go's ``missingkey=error`` option; a ``GoStruct`` (a dict standing for a
Go struct) makes a missing field an error, as Go's structs do.

The stages are Go's: ``lexer`` (text to tokens), ``parse`` (tokens to the tree
in ``nodes``, with ``literals`` for constant values), ``exec`` (the tree against
data) and ``funcs`` (the callable functions); ``..gofmt`` prints values as Go's
fmt does.  This module is the public surface.

Not supported: ``define``/``template``/``block``, ``break``/``continue``,
method calls, complex numbers and the ``html``/``js``/``urlquery``/``call``
builtins.
"""

from __future__ import annotations

from .errors import TemplateError
from .exec import Executor
from .nodes import Item
from .parse import Parser
from .values import GoStruct

__all__ = ["GoStruct", "Template", "TemplateError", "parse", "split_table"]


def split_table(text: str) -> tuple[bool, str]:
    """Split Docker's ``table`` prefix off a format string, as the docker CLI does.

    Docker also trims spaces and turns the two-character sequences ``\\t`` and
    ``\\n`` (easy to type in a shell, unlike a real tab) into tab and newline.
    """
    is_table = text.startswith("table")
    if is_table:
        text = text[len("table") :]
    return is_table, text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def parse(text: str) -> Template:
    """Parse a template; raises TemplateError worded like Go's parser."""
    return Template(text, Parser(text).parse())


class Template:
    """A parsed template, rendered once per object (e.g. per container row)."""

    def __init__(self, text: str, nodes: list[Item]) -> None:
        self._text = text
        self._nodes = nodes

    def render(self, data: object, missingkey: str = "default") -> str:
        """Execute against ``data``; raises TemplateError like Go's Execute.

        ``missingkey="error"`` is Go's ``Option("missingkey=error")``."""
        out: list[str] = []
        Executor(self._text, data, missingkey).walk(data, self._nodes, out)
        return "".join(out)
