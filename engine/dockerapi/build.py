"""``POST /build``: Docker's classic builder over the tar context the CLI streams.

The output is the builder's own classic text (``Step N/M : …``, `` ---> id``), one
``{"stream": …}`` message per piece as it happens, then ``{"aux": {"ID": …}}`` (the CLI
reads the image ID from it) and ``Successfully built …``/``Successfully tagged …``
(docker-py reads the ID from that line). A failure after the first message is reported
in band with its code, so ``docker build`` exits with the failing RUN's exit code.

The CLI 28 asks the ping for ``Builder-Version`` and, told ``1``, sends ``version=1``;
with BuildKit forced (``DOCKER_BUILDKIT=1`` and buildx installed) it asks for a BuildKit
session, which is answered with what to set instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..commands.results import Build
from ..errors import InvalidArgument
from .responses import Progress, Response
from .routing import Request, RouteTable
from .streams import Produced, body_file

routes = RouteTable()
NO_BUILDKIT = ("LayerLab builds with Docker's classic builder only, and BuildKit is not "
               "available: set DOCKER_BUILDKIT=0 for docker build")
UNSUPPORTED = {"remote": "a remote context (build from a URL)", "squash": "--squash",
               "extrahosts": "--add-host", "cachefrom": "--cache-from",
               "cpusetcpus": "--cpuset-cpus", "memory": "--memory", "shmsize": "--shm-size",
               "platform": "--platform", "networkmode": "--network", "outputs": "--output"}
IGNORED_VALUES = {"networkmode": ("", "default", "none"), "cachefrom": ("", "[]", "null"),
                  "extrahosts": ("",), "shmsize": ("", "0"), "memory": ("", "0"),
                  "platform": ("",), "outputs": ("", "[]", "null")}


def _check(req: Request) -> None:
    q = req.query
    if q.get("version") == "2":
        raise InvalidArgument(NO_BUILDKIT)
    for key, flag in UNSUPPORTED.items():
        if q.has(key) and q.get(key) not in IGNORED_VALUES.get(key, ("", "0", "false")):
            raise InvalidArgument(f"LayerLab's builder does not support {flag} yet")


def _mapping(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{name} must be a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


@routes.route("POST", "/build", streamed_body=True)
def build(req: Request) -> Response:
    from .. import builder

    _check(req)
    q = req.query
    tags = q.all("t")
    quiet = q.flag("q")
    args = _mapping(q.json("buildargs"), "buildargs")
    labels = _mapping(q.json("labels"), "labels")
    dockerfile = q.get("dockerfile") or "Dockerfile"

    def run(emit: Any) -> Any:
        def progress(event: builder.Progress) -> None:
            if not quiet:
                emit({"stream": event.text})

        with builder.open_context("-", dockerfile, body_file(req.stream)) as ctx:
            opts = builder.BuildOptions(ctx.root, ctx.dockerfile, ctx.name, ctx.ignore, tags,
                                        args, q.get("target"), q.flag("nocache"), labels)
            return builder.build(req.engine, opts, progress)

    def messages() -> Iterator[dict[str, Any]]:
        produced: Produced[dict[str, Any]] = Produced(run)
        sent = False
        try:
            for item in produced:
                sent = True
                yield item
        except builder.BuildError as e:
            if not sent and e.daemon:  # refused before any step ran: an error response
                raise
            yield {"errorDetail": {"code": e.exit_code, "message": str(e)}, "error": str(e)}
            return
        result = produced.result
        yield {"aux": {"ID": result.image_id}}
        summary = Build(result.image_id, result.tags, result.steps, quiet=quiet).text()
        for line in summary.split("\n"):  # one message a line: docker-py matches each
            yield {"stream": line + "\n"}

    return Progress(messages())


@routes.route("POST", "/session")
def session(req: Request) -> Response:
    """BuildKit's session endpoint: there is no BuildKit to talk to."""
    raise InvalidArgument(NO_BUILDKIT)
