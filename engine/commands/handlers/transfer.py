"""Moving images: save, load, pull, push (S19, S22), and the registry credentials they use
(login, logout)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...errors import NotFound
from ...oci import reference as refs
from .. import IO
from ..results import Lines, Result, Streamed
from .common import ClientError, open_input, open_output

if TYPE_CHECKING:
    from ...services.engine import Engine


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

    registry.push(engine, args.image,  # progress on stdout, as Docker prints it
                  (lambda line: None) if args.quiet else (lambda line: io.say(line, err=False)))
    return Lines([])


# -- registries ----------------------------------------------------------------------------
def cmd_login(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """``docker login [SERVER]``: check the credentials against the registry, then keep
    them in Docker's config file (see ``transfer.auth``). Without ``-u``/``-p`` it uses the
    stored ones, or asks on a terminal, as Docker does."""
    from ...transfer import auth, registry

    if args.password_stdin or args.password == "-":
        if args.password and args.password != "-":
            raise ClientError("conflicting options: cannot specify both --password and "
                             "--password-stdin")
        if not args.username:
            raise ClientError("the --password-stdin option requires --username to be set")
    user, password = args.username, args.password
    if password and password != "-":
        io.say("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if args.password_stdin or password == "-":
        password = io.stdin.read().decode(errors="replace")
        for eol in ("\r\n", "\n", "\r"):
            if password.endswith(eol):
                password = password[: -len(eol)]
                break
        if not password.strip():
            raise ClientError("password is empty")
    server = auth.to_hostname(args.server) if args.server else ""
    if not server or server in ("docker.io", "index.docker.io"):
        raise NotFound("login to Docker Hub is not possible from here (it is offline for "
                       "LayerLab); name a registry, e.g. docker login 127.0.0.1:5000")
    if not user and not password:
        stored = auth.lookup(server)
        if stored:
            io.say(f"Authenticating with existing credentials... [Username: {stored.username}]")
            return Lines([registry.login(server, stored)])
    if not user or not password:
        user, password = _prompt(io, user, password, server)
    status = registry.login(server, auth.Credentials(user, password))
    path = auth.store(server, auth.Credentials(user, password))
    if path is not None:
        io.say(f"\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
               "Configure a credential helper to remove this warning. See\n"
               "https://docs.docker.com/go/credential-store/\n")
    return Lines([status])


def _prompt(io: IO, user: str, password: str, server: str) -> tuple[str, str]:
    """Docker's interactive login; refused when stdin is not a terminal."""
    import getpass
    import os

    try:
        terminal = os.isatty(io.stdin.fileno())
    except (OSError, ValueError):
        terminal = False
    if not terminal:
        raise ClientError("error: cannot perform an interactive login from a non-TTY device")
    if not user:
        io.stdout.write(b"Username: ")
        io.stdout.flush()
        user = io.stdin.readline().decode(errors="replace").strip()
        if not user:
            raise ClientError("Error: Non-null Username Required")
    if not password:
        password = getpass.getpass("Password: ")
        if not password:
            raise ClientError("Error: Password Required")
    return user, password


def cmd_logout(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    from ...transfer import auth

    server = auth.to_hostname(args.server) if args.server else auth.INDEX_SERVER
    auth.erase(args.server or auth.INDEX_SERVER)
    return Lines([f"Removing login credentials for {server}"])
