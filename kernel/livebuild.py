"""The step list of a running ``build``: one display, updated in place as steps go.

It is fed the builder's typed progress events on the event loop, in the order they
happened (see ``runner``): a step event redraws the list, after the output shown so far is
flushed; RUN output goes to the cell's stream under its step's ``Step N/M`` line, so the
finished cell still reads step by step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from layerlab.engine import Progress

from .render import Output
from .render.build import BuildView
from .streams import OutputPump


class LiveBuild:
    """The step list of a running ``build``, one display updated in place."""

    def __init__(self, publish: Callable[[Output, str, bool], None]) -> None:
        self.publish = publish
        self.view = BuildView()
        self.display_id = f"layerlab-build-{uuid.uuid4().hex}"
        self.shown = False
        self.step_line = ""  # the running step's "Step N/M : …" line
        self.headed = ""  # the step line last written above RUN output

    def take(self, event: Progress, out: OutputPump) -> None:
        if event.kind == "output":
            header = self._header(event)
            if header != self.headed:
                self.headed = header
                out.take("stdout", header + "\n")
            out.take("stdout", event.text)
            return
        if event.kind == "step":
            self.step_line = event.text.rstrip("\n")
        out.flush()  # what the last step printed stays above the list's change
        self.view.take(event)
        self.show({"text/plain": self.view.text(), "text/html": self.view.html()})

    def _header(self, event: Progress) -> str:
        rec = event.step or {}
        if rec.get("trigger"):
            return f"{self.step_line}  # ONBUILD {rec.get('instruction', '')}"
        return self.step_line

    def failed(self) -> None:
        if self.shown:
            self.view.failed()
            self.show({"text/plain": self.view.text(), "text/html": self.view.html()})

    def show(self, data: dict[str, Any]) -> None:
        self.publish(Output(data), self.display_id, self.shown)
        self.shown = True
