"""``image explore`` (the layer explorer): the service's report, as text or JSON."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .. import IO
from ..results import Explored, Result

if TYPE_CHECKING:
    from ...services.engine import Engine


def cmd_image_explore(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Each layer's added, modified and deleted files (whiteouts and opaque directories
    included), efficiency and wasted bytes; ``--format json`` exports every change."""
    return Explored(engine.images.explore(args.image), template=args.format)
