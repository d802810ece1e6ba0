"""``build`` (S16): the classic builder, its output streamed as it runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...errors import InvalidArgument
from ...oci import reference as refs
from .. import IO
from ..grammar import UsageError
from ..results import Build, Result

if TYPE_CHECKING:
    from ...services.engine import Engine


def cmd_build(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S16: a Dockerfile, step by step, each step an intermediate image, with the cache.

    A front-end that takes typed progress (``io.progress``: the kernel's live step list)
    gets every event; otherwise the classic output is streamed to stdout (held back with
    ``-q``, and shown only on failure)."""
    from ... import builder

    for tag in args.tag:
        try:
            refs.parse(tag)
        except InvalidArgument as e:
            raise UsageError(f'invalid argument "{tag}" for "-t, --tag" flag: {e}') from None
    held: list[str] = []

    def progress(event: builder.Progress) -> None:
        if io.progress is not None and not args.quiet:
            io.progress(event)
        elif args.quiet:
            held.append(event.text)
        else:
            io.stdout.write(event.text.encode("utf-8", "surrogateescape"))
            io.stdout.flush()

    with builder.open_context(args.context, args.file, io.stdin) as ctx:
        opts = builder.BuildOptions(
            ctx.root, ctx.dockerfile, ctx.name, ctx.ignore, args.tag,
            builder.build_args(args.build_arg), args.target, args.no_cache,
            dict(item.partition("=")[::2] for item in args.label))
        try:
            result = builder.build(engine, opts, progress)
        except builder.BuildError:
            io.stderr.write("".join(held).encode("utf-8", "surrogateescape"))
            raise
    return Build(result.image_id, result.tags, result.steps, quiet=args.quiet)
