"""The step list of a running ``build``: one display, updated in place as steps go."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .render import Output
from .render.build import BuildView


class LiveBuild:
    """The step list of a running ``build``, one display updated in place."""

    def __init__(self, stream: Callable[[str, str], None],
                 publish: Callable[[Output, str, bool], None]) -> None:
        self.stream = stream
        self.publish = publish
        self.view = BuildView()
        self.display_id = f"layerlab-build-{uuid.uuid4().hex}"
        self.shown = False
        self.steps = 0

    def emit(self, name: str, text: str) -> None:
        if name == "stdout":
            text = self.view.feed(text)
            if self.view.plain and len(self.view.plain) != self.steps:
                self.steps = len(self.view.plain)
                self.show({"text/plain": self.view.text(), "text/html": self.view.html()})
        if text:
            self.stream(name, text)

    def failed(self) -> None:
        if self.shown:
            self.view.failed()
            self.show({"text/plain": self.view.text(), "text/html": self.view.html()})

    def show(self, data: dict[str, Any]) -> None:
        self.publish(Output(data), self.display_id, self.shown)
        self.shown = True
