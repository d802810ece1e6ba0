"""Moving images: save, load, pull, push (S19, S22)."""

from __future__ import annotations

import argparse

from ...oci import reference as refs
from ...services.engine import Engine
from .. import IO
from ..results import Lines, Result, Streamed
from .common import open_input, open_output


def pull(engine: Engine, ref: str, io: IO, quiet: bool = False, err: bool = True) -> str:
    """Progress goes to stderr when ``run`` pulls, to stdout for ``pull``, as Docker does."""
    from ...transfer import registry

    return registry.pull(engine, ref, (lambda line: None) if quiet
                         else (lambda line: io.say(line, err=err)))


def cmd_save(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S19: every layer and its metadata, as docker-archive + OCI layout."""
    from ...transfer import archive

    for name in args.images:
        engine.images.resolve(name)
    with open_output(args.output, io, "save") as out:
        archive.save(engine, args.images, out)
    return Streamed()


def cmd_load(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from ...transfer import archive

    with open_input(args.input, io) as src:
        lines = archive.load(engine, src)
    return Lines([] if args.quiet else lines)


def cmd_pull(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    image_id = pull(engine, args.image, io, args.quiet, err=False)
    return Lines([str(refs.parse(args.image))] if args.quiet else [], kind="pull",
                 exit_code=0 if image_id else 1)


def cmd_push(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from ...transfer import registry

    registry.push(engine, args.image, (lambda line: None) if args.quiet else io.say)
    return Lines([])
