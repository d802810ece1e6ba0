"""The two ways a template fails: the error users see, and a function's own failure."""

from __future__ import annotations


class TemplateError(ValueError):
    """Bad template syntax or a failed execution, worded like Go's errors."""


class CallError(Exception):
    """A template function failed; the executor reports it as Go's "error calling NAME: ..."."""
