"""The build cache: a step is the image an earlier build made on the same parent image for
the same instruction, config and (COPY/ADD) source content.

As in Docker's classic builder the cache is nothing but the images themselves, linked to
their parents: removing an image removes its cache entry, and ``save``/``load`` (which keep
no parent links) carry none.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..services.engine import Engine


def step_key(created_by: str, config: dict[str, Any], extra: str = "") -> str:
    """What must match for a cache hit besides the parent: the history line (which holds
    the command, build args and source hashes), the resulting config, and ``extra``."""
    blob = json.dumps([created_by, config, extra], sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()


class BuildCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._index: dict[tuple[str, str], list[str]] | None = None

    def _links(self) -> dict[tuple[str, str], list[str]]:
        if self._index is None:
            self._index = {}
            for image_id, parent, key in self.engine.store.images.build_links():
                self._index.setdefault((parent, key), []).append(image_id)
        return self._index

    def find(self, parent: str, key: str) -> str | None:
        """The cached image for this step, the newest if several builds made one."""
        found = [i for i in self._links().get((parent, key), []) if self.engine.images.exists(i)]
        if len(found) > 1:
            found.sort(key=lambda i: self.engine.images.get(i).config.get("created", ""))
        return found[-1] if found else None

    def add(self, parent: str, key: str, image_id: str) -> None:
        self._links().setdefault((parent, key), []).append(image_id)
