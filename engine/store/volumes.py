"""Volume store: named and anonymous volumes of the ``local`` driver, as Docker keeps them.

``volumes/<name>/volume.json`` is the record, ``volumes/<name>/_data`` the data a
container sees at its mount point (Docker's ``/var/lib/docker/volumes/<name>/_data``).
A volume is made whole in a temporary directory and renamed into place, so a crash never
leaves a record without its data directory, nor a data directory that looks like one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotFound
from ..fs.atomic import private_dir, publish_dir, read_json, write_json
from .journal import discard

RECORD = "volume.json"
DATA = "_data"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # Docker 23+ marks anonymous volumes so


@dataclass
class Volume:
    Name: str
    CreatedAt: str
    Driver: str = "local"
    Labels: dict[str, str] = field(default_factory=dict)
    Options: dict[str, str] = field(default_factory=dict)
    Scope: str = "local"

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.Labels


class VolumeStore:
    def __init__(self, root: Path) -> None:
        self.root = private_dir(root / "volumes")

    def dir(self, name: str) -> Path:
        return self.root / name

    def data(self, name: str) -> Path:
        return self.root / name / DATA

    def exists(self, name: str) -> bool:
        return (self.dir(name) / RECORD).is_file()

    def add(self, v: Volume) -> None:
        """Publish a new volume: record and empty data directory in one rename. The data
        directory is 0755 root's (as Docker's), the volume's own directory private."""
        tmp = self.root / f".tmp-{os.getpid()}-{v.Name}"  # a dead maker's: recovery sweeps it
        private_dir(tmp)
        os.mkdir(tmp / DATA, 0o755)
        write_json(tmp / RECORD, asdict(v))
        publish_dir(tmp, self.dir(v.Name))

    def get(self, name: str) -> Volume:
        try:
            record: dict[str, Any] = read_json(self.dir(name) / RECORD)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"get {name}: no such volume") from None
        return Volume(**record)

    def all(self) -> list[Volume]:
        out = []
        for d in sorted(self.root.iterdir()):
            if not d.name.startswith(".") and (d / RECORD).is_file():
                try:
                    out.append(self.get(d.name))
                except (NotFound, ValueError):
                    continue  # removed while we listed
        return out

    def delete(self, name: str) -> None:
        """Remove the volume and its data (moved to the store's trash first, so a crash
        half-way leaves no half volume: see ``journal.discard``)."""
        discard(self.root.parent, self.dir(name))
