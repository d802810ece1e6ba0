"""What Go's template evaluation makes of Python data beyond printing it (``..gofmt`` prints).

A missing dict key is Go's "invalid value": it prints as ``<no value>`` and becomes nil
when passed to a function, so it needs a marker distinct from ``None`` (nil).

A plain dict is a Go map; a ``GoStruct`` is a dict standing for a Go struct, so a template
naming a field it lacks fails as Go's does on a struct, instead of printing ``<no value>``.
Docker's list commands (``ps``, ``images``, ``history``, ``events`` …) hand structs to
``--format``, so ``{{.Foo}}`` is an error there.
"""

from __future__ import annotations


class _Missing:
    """Go's invalid value: what reading an absent map key yields."""


MISSING = _Missing()


def truth(value: object) -> bool:
    """Go's truth: false, 0, nil, missing and empty are false; structs are true."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True


class GoStruct(dict):
    """A dict whose keys are the fields of a Go struct named ``go_type`` (as Go's messages
    name it, e.g. ``*formatter.ContainerContext``).

    ``json_tags`` are the fields' ``json:"…"`` tags where the struct has them (``{{json .}}``
    then uses the tag's name, and ``omitempty`` drops zero values), e.g. Docker's
    ``events.Message`` whose ``Status`` field is ``"status,omitempty"``."""

    def __init__(self, go_type: str, fields: dict | None = None,
                 json_tags: dict[str, str] | None = None) -> None:
        super().__init__(fields or {})
        self.go_type = go_type
        self.json_tags = json_tags or {}

    def json_items(self) -> list[tuple[str, object]]:
        """(JSON name, value) pairs in field order, as encoding/json writes the struct."""
        out = []
        for name, value in self.items():
            tag_name, _, options = self.json_tags.get(name, name).partition(",")
            if "omitempty" in options.split(",") and value in (None, "", 0, False, [], {}):
                continue
            out.append((tag_name or name, value))
        return out
