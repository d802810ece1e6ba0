"""The docker command grammar: one argparse parser per command, Docker's flags and aliases."""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from ..errors import InvalidArgument


class UsageError(InvalidArgument):
    """A command line Docker's CLI would reject (exit 125, no daemon prefix)."""

    exit_code = 125
    daemon = False


class Parser(argparse.ArgumentParser):
    """argparse with Docker's flag rules: no abbreviations (``--ent`` is not
    ``--entrypoint``) and Docker's wording for unknown flags and bad flag values."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(allow_abbrev=False, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        flag_error = _pflag_wording(message)
        if flag_error:  # Docker's own flag errors name no command before the message
            raise UsageError(f"{flag_error}\nSee '{self.prog} --help'.")
        raise UsageError(f"{self.prog}: {message}\nSee '{self.prog} --help'.")


def _pflag_wording(message: str) -> str:
    """pflag's messages for argparse's (``unknown flag: --ent``, ``invalid argument …``),
    or "" for errors pflag has no words for."""
    if message.startswith("unrecognized arguments: "):
        first = message.removeprefix("unrecognized arguments: ").split()[0]
        if first.startswith("--"):
            return f"unknown flag: {first}"
        if first.startswith("-") and len(first) > 1:
            return f"unknown shorthand flag: '{first[1]}' in {first}"
    m = re.match(r"argument [^:]+: (invalid argument .*)", message, re.S)
    return m[1] if m else ""


def _filter(value: str) -> tuple[str, str]:
    """``--filter name=value`` as Docker's FilterOpt reads it: the name lower-cased, both
    sides trimmed; no ``=`` is a flag error."""
    if "=" not in value:
        raise argparse.ArgumentTypeError(f'invalid argument "{value}" for "-f, --filter" flag: '
                                         "bad format of filter (expected name=value)")
    name, _, val = value.partition("=")
    return name.strip().lower(), val.strip()


def _add_filter(p: _Spec) -> None:
    p.add_argument("-f", "--filter", action="append", default=[], type=_filter,
                   help="Filter output based on conditions provided")


# docker <management command> <verb> → the classic command
ALIASES = {
    ("container", "ls"): "ps", ("container", "list"): "ps", ("container", "rm"): "rm",
    ("image", "ls"): "images", ("image", "list"): "images", ("image", "rm"): "rmi",
    ("image", "prune"): "image prune", ("container", "prune"): "container prune",
    ("image", "explore"): "image explore",
    ("system", "df"): "system df", ("system", "info"): "info", ("system", "prune"):
    "system prune", ("system", "events"): "events", ("system", "service"): "system service",
    ("system", "check"): "system check",
}
for _verb in ("create", "start", "run", "stop", "kill", "pause", "unpause", "commit", "exec",
              "inspect", "diff", "logs", "wait", "export", "top", "rename", "restart",
              "update", "stats", "attach"):
    ALIASES[("container", _verb)] = _verb
for _verb in ("history", "inspect", "save", "load", "tag", "import", "pull", "push", "build"):
    ALIASES[("image", _verb)] = _verb
ALIASES[("container", "port")] = "port"
for _verb in ("create", "ls", "inspect", "rm", "prune", "connect", "disconnect"):
    ALIASES[("network", _verb)] = f"network {_verb}"
ALIASES[("network", "list")] = "network ls"
ALIASES[("network", "remove")] = "network rm"
for _verb in ("create", "ls", "inspect", "rm", "prune"):
    ALIASES[("volume", _verb)] = f"volume {_verb}"
ALIASES[("volume", "list")] = "volume ls"
ALIASES[("volume", "remove")] = "volume rm"
ALIASES[("container", "cp")] = "cp"


# Commands whose CONTAINER must be running (Docker refuses the others): completion offers
# only running containers there.
NEEDS_RUNNING = frozenset({"stop", "kill", "pause", "exec", "top", "attach"})


class _Spec:
    """One command's parser, written down: its ``add_argument`` calls are kept and made
    on a real :class:`Parser` only when that command is parsed (or its help shown). Making
    all ~60 parsers took ~15 ms of every CLI start, for the one command being run."""

    def __init__(self, name: str, usage: str, summary: str) -> None:
        self.name, self.usage, self.summary = name, usage, summary
        self.arguments: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self.arguments.append((flags, kwargs))

    def build(self) -> Parser:
        p = Parser(prog=f"docker {self.name}", usage=f"docker {self.name} {self.usage}",
                   description=self.summary, add_help=False)
        for flags, kwargs in self.arguments:
            p.add_argument(*flags, **kwargs)
        return p


class Parsers(Mapping[str, Parser]):
    """Every command's parser by name, each built on first use (then kept)."""

    def __init__(self, specs: dict[str, _Spec]) -> None:
        self._specs = specs
        self._built: dict[str, Parser] = {}

    def __getitem__(self, name: str) -> Parser:
        if name not in self._built:
            self._built[name] = self._specs[name].build()
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def _common(p: _Spec) -> _Spec:
    p.add_argument("--help", action="store_true", help="Print usage")
    return p


def _format(p: _Spec, quiet: bool = True, trunc: bool = True) -> None:
    p.add_argument("--format", default="", help="Format output using a Go template")
    if quiet:
        p.add_argument("-q", "--quiet", action="store_true", help="Only display IDs")
    if trunc:
        p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")


def _container_config(p: _Spec) -> None:
    p.add_argument("--name", default="", help="Assign a name to the container")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[],
                   help="Read in a file of environment variables")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("-u", "--user", default=None, help="<name|uid>[:<group|gid>]")
    p.add_argument("-h", "--hostname", default="", help="Container host name")
    p.add_argument("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("--detach-keys", default="", help="Override the key sequence for "
                   "detaching a container")
    p.add_argument("--restart", default="no", help="Restart policy to apply when a container "
                   "exits")
    p.add_argument("--init", action="store_true", help="Run an init inside the container that "
                   "forwards signals and reaps processes")
    p.add_argument("--rm", action="store_true", help="Remove the container when it exits")
    p.add_argument("-l", "--label", action="append", default=[], help="Set meta data on a "
                   "container")
    p.add_argument("--label-file", action="append", default=[],
                   help="Read in a line delimited file of labels")
    p.add_argument("--network", "--net", action="append", default=[],
                   help="Connect a container to a network (default: bridge)")
    p.add_argument("--network-alias", "--net-alias", action="append", default=[],
                   help="Add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("-p", "--publish", action="append", default=[],
                   help="Publish a container's port(s) to the host")
    p.add_argument("-P", "--publish-all", action="store_true",
                   help="Publish all exposed ports to random ports")
    p.add_argument("--expose", action="append", default=[], help="Expose a port or a range")
    p.add_argument("--add-host", action="append", default=[],
                   help="Add a custom host-to-IP mapping (host:ip)")
    p.add_argument("--dns", action="append", default=[], help="Set custom DNS servers")
    p.add_argument("--dns-search", action="append", default=[],
                   help="Set custom DNS search domains")
    p.add_argument("--dns-option", action="append", default=[], help="Set DNS options")
    p.add_argument("--cap-add", action="append", default=[], help="Add Linux capabilities")
    p.add_argument("--cap-drop", action="append", default=[], help="Drop Linux capabilities")
    p.add_argument("--privileged", action="store_true",
                   help="Give extended privileges to this container")
    p.add_argument("--security-opt", action="append", default=[], help="Security options")
    p.add_argument("-v", "--volume", action="append", default=[],
                   help="Bind mount a volume (NAME:/path, /host:/path[:ro], /path)")
    p.add_argument("--mount", action="append", default=[],
                   help="Attach a filesystem mount to the container (type=bind|volume|tmpfs,"
                        "source=,target=,readonly)")
    p.add_argument("--tmpfs", action="append", default=[], help="Mount a tmpfs directory")
    p.add_argument("--read-only", action="store_true",
                   help="Mount the container's root filesystem as read only")
    p.add_argument("--volumes-from", action="append", default=[],
                   help="Mount volumes from the specified container(s)")
    _resource_flags(p)
    p.add_argument("--oom-kill-disable", action="store_true", help="Disable OOM Killer")
    p.add_argument("--ulimit", action="append", default=[], type=_typed("--ulimit", "ulimit"),
                   help="Ulimit options")
    p.add_argument("image", help="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, help="[COMMAND] [ARG...]")


def _typed(flag: str, kind: str) -> Callable[[str], object]:
    """A flag value parsed by ``commands.units``, its error in pflag's words."""
    def parse(value: str) -> object:
        from . import units

        try:
            return units.PARSERS[kind](value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f'invalid argument "{value}" for "{flag}" flag: '
                                             f"{e}") from None
    return parse


def _resource_flags(p: _Spec) -> None:
    """The cgroup limits ``run``/``create`` and ``update`` share."""
    p.add_argument("-m", "--memory", type=_typed("-m, --memory", "bytes"), default=0,
                   help="Memory limit")
    p.add_argument("--memory-swap", type=_typed("--memory-swap", "swap"), default=0,
                   help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    p.add_argument("--memory-reservation", type=_typed("--memory-reservation", "bytes"),
                   default=0, help="Memory soft limit")
    p.add_argument("--cpus", type=_typed("--cpus", "cpus"), default=0, help="Number of CPUs")
    p.add_argument("-c", "--cpu-shares", type=_typed("-c, --cpu-shares", "int"), default=0,
                   help="CPU shares (relative weight)")
    p.add_argument("--cpu-period", type=_typed("--cpu-period", "int"), default=0,
                   help="Limit CPU CFS (Completely Fair Scheduler) period")
    p.add_argument("--cpu-quota", type=_typed("--cpu-quota", "int"), default=0,
                   help="Limit CPU CFS (Completely Fair Scheduler) quota")
    p.add_argument("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--pids-limit", type=_typed("--pids-limit", "int"), default=None,
                   help="Tune container pids limit (set -1 for unlimited)")


@functools.cache
def parsers() -> Parsers:
    ps: dict[str, _Spec] = {}

    def add(name: str, usage: str, summary: str) -> _Spec:
        ps[name] = _common(_Spec(name, usage, summary))
        return ps[name]

    p = add("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container")
    _container_config(p)
    p = add("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container")
    p.add_argument("-d", "--detach", action="store_true", help="Run in background, print ID")
    _container_config(p)
    p = add("start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start stopped containers")
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach STDIN")
    p.add_argument("containers", nargs="+")
    p = add("ps", "[OPTIONS]", "List containers")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container")
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    _add_filter(p)
    _format(p)
    p = add("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images")
    p.add_argument("-a", "--all", action="store_true", help="Show all images (incl. intermediates)")
    p.add_argument("--tree", action="store_true", help="Show the layer graph (layers by diffID)")
    _add_filter(p)
    p.add_argument("--digests", action="store_true", help="Show digests")
    _format(p)
    p.add_argument("reference", nargs="?")
    p = add("history", "[OPTIONS] IMAGE", "Show the history of an image")
    p.add_argument("-H", "--human", default="true", choices=["true", "false"],
                   type=str.lower, help="Human readable sizes and dates")
    _format(p)
    p.add_argument("image")
    for name, summary in (("stop", "Stop one or more running containers"),
                          ("kill", "Kill one or more running containers"),
                          ("pause", "Pause all processes within containers"),
                          ("unpause", "Unpause all processes within containers"),
                          ("wait", "Block until containers stop, then print their exit codes"),
                          ("restart", "Restart one or more containers")):
        p = add(name, "[OPTIONS] CONTAINER [CONTAINER...]", summary)
        if name in ("stop", "restart"):
            p.add_argument("-t", "--time", "--timeout", type=int, default=None,
                           help="Seconds to wait before killing")
            p.add_argument("-s", "--signal", default="", help="Signal to send")
        if name == "kill":
            p.add_argument("-s", "--signal", default="SIGKILL", help="Signal to send")
        p.add_argument("containers", nargs="+")
    p = add("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers")
    p.add_argument("-f", "--force", action="store_true", help="Force removal")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes")
    p.add_argument("containers", nargs="+")
    p = add("rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images")
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    p.add_argument("images", nargs="+")
    p = add("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
            "Create a new image from a container's changes")
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("-a", "--author", default="", help="Author")
    p.add_argument("-c", "--change", action="append", default=[], help="Dockerfile instruction")
    p.add_argument("-p", "--pause", default="true", choices=["true", "false"], type=str.lower,
                   help="Pause container during commit")
    p.add_argument("container")
    p.add_argument("reference", nargs="?", default="")
    p = add("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]",
            "Execute a command in a running container")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("--detach-keys", default="", help="Override the key sequence for "
                   "detaching a container")
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("-w", "--workdir", default="", help="Working directory")
    p.add_argument("-u", "--user", default=None, help="Username or UID")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = add("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information")
    p.add_argument("-f", "--format", default="", help="Format output using a Go template")
    p.add_argument("--type", default="", choices=["", "container", "image", "network",
                                                  "volume"],
                   help="Object type")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("names", nargs="+")
    p = add("diff", "CONTAINER", "Inspect changes to files on a container's filesystem")
    p.add_argument("container")
    p = add("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("-n", "--tail", default="all", help="Number of lines from the end")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--since", default="", help="Show logs since timestamp (e.g. "
                   "\"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
    p.add_argument("--until", default="", help="Show logs before a timestamp (e.g. "
                   "\"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("container")
    p = add("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag")
    p.add_argument("source")
    p.add_argument("target")
    p = add("save", "[OPTIONS] IMAGE [IMAGE...]", "Save images to a tar archive")
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    p.add_argument("images", nargs="+")
    p = add("load", "[OPTIONS]", "Load an image from a tar archive or STDIN")
    p.add_argument("-i", "--input", default="", help="Read from tar archive file")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    p = add("export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive")
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    p.add_argument("container")
    p = add("import", "[OPTIONS] file|- [REPOSITORY[:TAG]]",
            "Import the contents from a tarball to create a filesystem image")
    p.add_argument("-c", "--change", action="append", default=[], help="Dockerfile instruction")
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("file")
    p.add_argument("reference", nargs="?", default="")
    p = add("build", "[OPTIONS] PATH | -", "Build an image from a Dockerfile")
    p.add_argument("-t", "--tag", action="append", default=[], help="Name and tag: name:tag")
    p.add_argument("-f", "--file", default="", help="Name of the Dockerfile (or - for stdin)")
    p.add_argument("--build-arg", action="append", default=[], help="Set build-time variables")
    p.add_argument("--target", default="", help="Set the target build stage to build")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when building")
    p.add_argument("-q", "--quiet", action="store_true", help="Print the image ID on success")
    p.add_argument("--label", action="append", default=[], help="Set metadata for an image")
    p.add_argument("context", help="PATH | -")
    p = add("pull", "[OPTIONS] NAME[:TAG]", "Download an image from a registry")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("image")
    p = add("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("image")
    p = add("info", "[OPTIONS]", "Display system-wide information")
    p.add_argument("-f", "--format", default="", help="Format output using a Go template")
    p = add("version", "[OPTIONS]", "Show the version information")
    p.add_argument("-f", "--format", default="", help="Format output using a Go template")
    p = add("container prune", "[OPTIONS]", "Remove all stopped containers")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], type=_filter,
                   help="Provide filter values (e.g. \"until=<timestamp>\")")
    p = add("image prune", "[OPTIONS]", "Remove unused images")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], type=_filter,
                   help="Provide filter values (e.g. \"until=<timestamp>\")")
    p = add("system prune", "[OPTIONS]", "Remove unused data")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images not just "
                   "dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    p.add_argument("--filter", action="append", default=[], type=_filter,
                   help="Provide filter values (e.g. \"label=<key>=<value>\")")
    p = add("attach", "[OPTIONS] CONTAINER", "Attach local standard input, output, and "
            "error streams to a running container")
    p.add_argument("--detach-keys", default="", help="Override the key sequence for "
                   "detaching a container")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", choices=["true", "false"], type=str.lower,
                   help="Proxy all received signals to the process")
    p.add_argument("container")
    p = add("rename", "CONTAINER NEW_NAME", "Rename a container")
    p.add_argument("container")
    p.add_argument("new_name")
    p = add("events", "[OPTIONS]", "Get real time events from the server")
    p.add_argument("--since", default="", help="Show all events created since timestamp")
    p.add_argument("--until", default="", help="Stream events until this timestamp")
    _add_filter(p)
    p.add_argument("--format", default="", help="Format output using a Go template")
    p = add("login", "[OPTIONS] [SERVER]", "Authenticate to a registry")
    p.add_argument("-u", "--username", default="", help="Username")
    p.add_argument("-p", "--password", default="", help="Password or Personal Access Token")
    p.add_argument("--password-stdin", action="store_true", help="Take the Password or "
                   "Personal Access Token from stdin")
    p.add_argument("server", nargs="?", default="")
    p = add("logout", "[SERVER]", "Log out from a registry")
    p.add_argument("server", nargs="?", default="")
    p = add("image explore", "[OPTIONS] IMAGE",
            "Show each layer's added, modified and deleted files, and the wasted bytes")
    p.add_argument("--format", default="",
                   help="'json' (every layer's changes) or a Go template over that JSON")
    p.add_argument("image")
    p = add("system df", "[OPTIONS]", "Show docker disk usage")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information")
    p.add_argument("--format", default="", help="Format output using a Go template")
    p = add("system service", "[OPTIONS] [URI]",
            "Serve the Docker Engine API, so the docker CLI and docker-py drive this engine")
    p.add_argument("-t", "--time", type=float, default=None, metavar="SECONDS",
                   help="Exit after this long without a request (0: never; default never)")
    p.add_argument("--group", default=None, help="Make the socket 0660, owned by this group")
    p.add_argument("--allow-remote", action="store_true",
                   help="Allow a tcp:// address beyond loopback (no TLS, no authentication)")
    p.add_argument("uri", nargs="?", default="",
                   help="unix:///path (default $XDG_RUNTIME_DIR/layerlab.sock, "
                        "/run/layerlab.sock as root) or tcp://127.0.0.1:PORT")
    p = add("system check", "[OPTIONS]",
            "Check that the store agrees with itself (LayerLab's own, like fsck)")
    p.add_argument("--repair", action="store_true", help="Fix what is found")
    p.add_argument("--format", default="", help="Format output using a Go template")
    p = add("update", "[OPTIONS] CONTAINER [CONTAINER...]",
            "Update configuration of one or more containers")
    _resource_flags(p)
    p.add_argument("containers", nargs="+")
    p = add("stats", "[OPTIONS] [CONTAINER...]",
            "Display a live stream of container(s) resource usage statistics")
    p.add_argument("-a", "--all", action="store_true",
                   help="Show all containers (default shows just running)")
    p.add_argument("--no-stream", action="store_true",
                   help="Disable streaming stats and only pull the first result")
    _format(p, quiet=False)
    p.add_argument("containers", nargs="*")
    p = add("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container")
    p.add_argument("container")
    p.add_argument("ps_args", nargs=argparse.REMAINDER)
    p = add("port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
            "List port mappings or a specific mapping for the container")
    p.add_argument("container")
    p.add_argument("private", nargs="?", default=None)
    _network_commands(add)
    _volume_commands(add)
    p = add("cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       docker cp [OPTIONS] "
            "SRC_PATH|- CONTAINER:DEST_PATH",
            "Copy files/folders between a container and the local filesystem")
    p.add_argument("-a", "--archive", action="store_true",
                   help="Archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true",
                   help="Always follow symbol link in SRC_PATH")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Suppress progress output during copy")
    p.add_argument("source")
    p.add_argument("dest")
    return Parsers(ps)


def _volume_commands(add: Callable[[str, str, str], _Spec]) -> None:
    p = add("volume create", "[OPTIONS] [VOLUME]", "Create a volume")
    p.add_argument("-d", "--driver", default="local", help="Specify volume driver name")
    p.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    p.add_argument("-o", "--opt", action="append", default=[],
                   help="Set driver specific options")
    p.add_argument("--name", default="", help="Specify volume name")
    p.add_argument("volume_name", nargs="?", default="", metavar="VOLUME")
    p = add("volume ls", "[OPTIONS]", "List volumes")
    _add_filter(p)
    _format(p, trunc=False)
    p = add("volume inspect", "[OPTIONS] VOLUME [VOLUME...]",
            "Display detailed information on one or more volumes")
    p.add_argument("-f", "--format", default="", help="Format output using a Go template")
    p.add_argument("names", nargs="+")
    p = add("volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes")
    p.add_argument("-f", "--force", action="store_true",
                   help="Force the removal of one or more volumes")
    p.add_argument("names", nargs="+")
    p = add("volume prune", "[OPTIONS]", "Remove unused local volumes")
    p.add_argument("-a", "--all", action="store_true",
                   help="Remove all unused volumes, not just anonymous ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], type=_filter,
                   help="Provide filter values (e.g. \"label=<label>\")")


def _network_commands(add: Callable[[str, str, str], _Spec]) -> None:
    p = add("network create", "[OPTIONS] NETWORK", "Create a network")
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    p.add_argument("--subnet", default=None, help="Subnet in CIDR format")
    p.add_argument("--gateway", default=None, help="IPv4 Gateway for the master subnet")
    p.add_argument("--internal", action="store_true", help="Restrict external access")
    p.add_argument("--label", action="append", default=[], help="Set metadata on a network")
    p.add_argument("name")
    p = add("network ls", "[OPTIONS]", "List networks")
    p.add_argument("-f", "--filter", action="append", default=[], help="Provide filter values")
    p.add_argument("--graph", action="store_true",
                   help="Show networks, containers, addresses and published ports as a graph")
    _format(p)
    p = add("network inspect", "[OPTIONS] NETWORK [NETWORK...]",
            "Display detailed information on one or more networks")
    p.add_argument("-f", "--format", default="", help="Format output using a Go template")
    p.add_argument("names", nargs="+")
    p = add("network rm", "NETWORK [NETWORK...]", "Remove one or more networks")
    p.add_argument("-f", "--force", action="store_true",
                   help="Do not error if the network does not exist")
    p.add_argument("names", nargs="+")
    p = add("network prune", "[OPTIONS]", "Remove all unused networks")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p = add("network connect", "[OPTIONS] NETWORK CONTAINER",
            "Connect a container to a network")
    p.add_argument("--alias", action="append", default=[],
                   help="Add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("network")
    p.add_argument("container")
    p = add("network disconnect", "[OPTIONS] NETWORK CONTAINER",
            "Disconnect a container from a network")
    p.add_argument("-f", "--force", action="store_true",
                   help="Force the container to disconnect from a network")
    p.add_argument("network")
    p.add_argument("container")


def split_command(argv: list[str]) -> tuple[str, list[str]]:
    """``["container", "ls", "-a"]`` → ``("ps", ["-a"])``; unknown commands raise UsageError."""
    if not argv:
        raise UsageError("docker: no command given; try: docker run busybox echo hello")
    if len(argv) >= 2 and (argv[0], argv[1]) in ALIASES:
        return ALIASES[(argv[0], argv[1])], argv[2:]
    if argv[0] in parsers():
        return argv[0], argv[1:]
    raise UsageError(f"docker: '{' '.join(argv[:2])}' is not a docker command.\n"
                     f"Known commands: {', '.join(command_names())}")


def command_names() -> list[str]:
    """Every command, single words first (``run``, ``ps`` …), then ``image prune`` …"""
    return sorted(parsers(), key=lambda n: (" " in n, n))
