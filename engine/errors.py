"""One exception type per kind of failure, each mapped to a Docker-like exit code.

The command layer turns these into one-line messages (``Error response from daemon: …``
for store errors, as Docker prints them) without tracebacks.
"""


class EngineError(Exception):
    """Base of every error a user can cause; ``exit_code`` follows the Docker CLI."""

    exit_code = 1
    daemon = True  # Docker prefixes daemon-side failures with "Error response from daemon:"


class NotFound(EngineError):
    """An image, container, layer or file that does not exist."""


class Conflict(EngineError):
    """The object exists but its state forbids the operation (in use, running, name taken)."""


class InvalidArgument(EngineError):
    """Malformed input: bad reference, bad flag value, malformed or unsafe archive."""


class Unsupported(EngineError):
    """The host cannot do this in the current isolation mode (e.g. no namespaces)."""


class RuntimeFailure(EngineError):
    """The container process could not be started (``docker run`` exits 125/126/127)."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ConfigError(EngineError):
    """A bad setting (``LAYERLAB_*`` environment, a global flag): the CLI's own error, not
    the daemon's, exit 125 as Docker's CLI exits on bad flags."""

    exit_code = 125
    daemon = False

    def __init__(self, message: str) -> None:
        super().__init__(f"layerlab: {message}")
