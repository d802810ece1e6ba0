"""The default table of a listing is printed without the template engine when every cell is
a string (``results._default_table``): it must print exactly what the template prints."""

from __future__ import annotations

from layerlab.engine.commands.results import Table

COLUMNS = [("ID", "IMAGE"), ("CreatedBy", "CREATED BY"), ("Size", "SIZE")]


def _both(rows: list[dict]) -> tuple[str, str]:
    """(the default view, the same view spelled out as a user's --format)."""
    spelled = "table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}"
    return (Table("history", rows, COLUMNS).text(),
            Table("history", rows, COLUMNS, spelled).text())


def test_default_table_is_what_the_template_prints() -> None:
    rows = [{"ID": "1efe1b6ecfac", "CreatedBy": "ADD layer 100 … ünïcode", "Size": "2B",
             "Comment": ""},
            {"ID": "<missing>", "CreatedBy": "", "Size": "4.27MB", "Comment": "x"}]
    plain, templated = _both(rows)
    assert plain == templated
    assert plain.splitlines()[0].split() == ["IMAGE", "CREATED", "BY", "SIZE"]
    assert _both([]) == ("IMAGE     CREATED BY   SIZE",) * 2


def test_cells_that_are_not_strings_go_through_the_template() -> None:
    rows = [{"ID": "a", "CreatedBy": "b", "Size": 1024}, {"ID": "c", "CreatedBy": "d",
                                                          "Size": True}]
    plain, templated = _both(rows)
    assert plain == templated
    assert plain.splitlines()[1:] == ["a         b            1024", "c         d            true"]
