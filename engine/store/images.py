"""Image store: OCI image configs (ID = sha256 of the config bytes), tags, parent links.

Parent links are local knowledge, as in Docker: ``commit`` and ``build`` record them, while
``load``/``import``/``pull`` images have none, which is why ``history`` shows ``<missing>``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, NotFound
from ..fs.atomic import atomic_write, private_dir, read_json, remove_tree, write_json
from ..oci import reference as refs
from ..oci.digest import HEX64, digest, strip_algo
from .ids import hex_of, is_digest
from .journal import discard


@dataclass
class Image:
    id: str
    config: dict[str, Any]
    parent: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.config.get("history", []))

    @property
    def run_config(self) -> dict[str, Any]:
        return dict(self.config.get("config") or {})


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = private_dir(root / "images")
        self.refs_file = root / "repositories.json"

    # -- configs -------------------------------------------------------------
    def _dir(self, image_id: str) -> Path:
        return self.root / hex_of(image_id, "image ID")

    def put(self, raw: bytes, parent: str = "", build_key: str = "") -> str:
        """Store a config exactly as given (so loaded images keep their ID).

        ``build_key`` is the builder's cache key for the step that made the image: local
        knowledge like the parent link, so it lives beside it and not in the config.
        """
        try:
            config = json.loads(raw)
        except ValueError as e:
            raise InvalidArgument(f"invalid image config: {e}") from None
        if not isinstance(config, dict) or "rootfs" not in config:
            raise InvalidArgument("invalid image config: no rootfs section")
        image_id = digest(raw)
        meta = {"parent": parent, **({"build_key": build_key} if build_key else {})}
        d = self._dir(image_id)
        if not d.exists():
            # made aside and renamed into place: an image directory is whole or absent
            tmp = Path(tempfile.mkdtemp(dir=self.root.parent, prefix=f".tmp-{os.getpid()}-"))
            try:
                write_json(tmp / "meta.json", meta)
                atomic_write(tmp / "config.json", raw)
                os.chmod(tmp, 0o700)
                os.rename(tmp, d)
                return image_id
            except OSError:
                remove_tree(tmp)
                if not d.exists():
                    raise
        if parent or build_key or not (d / "meta.json").exists():
            write_json(d / "meta.json", meta)
        if not (d / "config.json").exists():
            atomic_write(d / "config.json", raw)
        return image_id

    def exists(self, image_id: str) -> bool:
        return is_digest(image_id) and (self._dir(image_id) / "config.json").exists()

    def get(self, image_id: str, tags_of: dict[str, list[str]] | None = None) -> Image:
        """The image; ``tags_of`` (image ID → its tags, from ``tags_by_image``) spares a
        caller reading many images the tag table's parse for each."""
        d = self._dir(image_id)
        try:
            config = json.loads((d / "config.json").read_bytes())
        except FileNotFoundError:
            raise NotFound(f"No such image: {image_id}") from None
        try:
            meta = read_json(d / "meta.json")
        except FileNotFoundError:
            meta = {}
        full = "sha256:" + strip_algo(image_id)
        if tags_of is None:
            tags = sorted(r for r, i in self.refs().items() if i == full)
        else:
            tags = tags_of.get(full, [])
        return Image(full, config, meta.get("parent", ""), tags)

    def tags_by_image(self) -> dict[str, list[str]]:
        """Image ID → its tags (sorted), from one read of the tag table."""
        out: dict[str, list[str]] = {}
        for ref, image_id in sorted(self.refs().items()):
            out.setdefault(image_id, []).append(ref)
        return out

    def raw_config(self, image_id: str) -> bytes:
        return (self._dir(image_id) / "config.json").read_bytes()

    def ids(self) -> list[str]:
        return ["sha256:" + d.name for d in self.root.iterdir() if (d / "config.json").exists()]

    def all(self) -> list[Image]:
        tags_of = self.tags_by_image()  # once, not once per image: listings stay linear
        return [self.get(i, tags_of) for i in self.ids()]

    def build_links(self) -> list[tuple[str, str, str]]:
        """(image ID, parent, build key) of every image, read from the small meta records
        only: the build cache looks steps up with it without parsing any config."""
        out = []
        for d in self.root.iterdir():
            try:
                meta = read_json(d / "meta.json")
            except (FileNotFoundError, NotADirectoryError):
                continue
            if meta.get("build_key"):
                out.append(("sha256:" + d.name, meta.get("parent", ""), meta["build_key"]))
        return out

    def repo_digests(self, image_id: str) -> list[str]:
        """``repo@sha256:…`` references of the image: the manifest digests it was pulled
        or pushed under (Docker's ``RepoDigests``); they go with the image."""
        try:
            return list(read_json(self._dir(image_id) / "repodigests.json"))
        except FileNotFoundError:
            return []

    def add_repo_digest(self, image_id: str, ref: str) -> None:
        known = self.repo_digests(image_id)
        if ref not in known:
            write_json(self._dir(image_id) / "repodigests.json", sorted([*known, ref]))

    def remove_repo_digest(self, image_id: str, ref: str) -> None:
        known = self.repo_digests(image_id)
        if ref in known:
            write_json(self._dir(image_id) / "repodigests.json", [r for r in known if r != ref])

    def unlink_parent(self, image_id: str) -> None:
        """Forget the image's parent link (its parent was removed by force)."""
        write_json(self._dir(image_id) / "meta.json", {"parent": ""})

    def delete(self, image_id: str) -> None:
        discard(self.root.parent, self._dir(image_id))

    # -- references ----------------------------------------------------------
    def refs(self) -> dict[str, str]:
        try:
            return dict(read_json(self.refs_file))
        except FileNotFoundError:
            return {}

    def tag(self, image_id: str, ref: str) -> None:
        table = self.refs()
        table[str(refs.parse(ref))] = image_id
        write_json(self.refs_file, dict(sorted(table.items())))

    def untag(self, ref: str) -> str:
        table = self.refs()
        image_id = table.pop(ref)
        write_json(self.refs_file, dict(sorted(table.items())))
        return image_id

    def resolve(self, name: str) -> str:
        """Name or ID → full image ID, with Docker's lookup order and messages."""
        stripped = strip_algo(name)
        if HEX64.match(stripped) and self.exists(stripped):
            return "sha256:" + stripped
        if refs.looks_like_reference(name):
            ref = refs.parse(name)
            image_id = self.refs().get(str(ref))
            if image_id:
                if ref.digest and ref.digest != image_id:
                    raise NotFound(f"No such image: {name}")
                return image_id
        if len(stripped) >= 1 and all(c in "0123456789abcdef" for c in stripped):
            matches = [i for i in self.ids() if strip_algo(i).startswith(stripped)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(
                    f"short image ID {name!r} is ambiguous: it matches {len(matches)} images; "
                    "type more characters"
                )
        raise NotFound(f"No such image: {name}")
