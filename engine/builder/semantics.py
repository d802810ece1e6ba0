"""What each metadata instruction does to the image config, and the history line for it.

The CREATED BY strings are the classic builder's, byte for byte: a metadata step records
its shell, ``#(nop)`` and a description formatted with Go's ``%q``/``%v`` (hence
``CMD ["sh" "-c" "x"]`` without commas and ``HEALTHCHECK &{[…] "30s" …}``).
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument
from ..gofmt import go_quote
from ..oci import instructions
from .parse import Instruction, error_at
from .shell import Lexer

DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class StageState:
    """The image being built in one stage: its config section and what Docker tracks."""

    config: dict[str, Any]
    cmd_set: bool = False  # a CMD in this stage: a later ENTRYPOINT then keeps it
    author: str = ""

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def env(self) -> dict[str, str]:
        return dict(e.partition("=")[::2] for e in self.config.get("Env") or [])


# -- Go's fmt, as the classic builder's history strings use it -------------------------------
def go_q_list(items: list[str] | None) -> str:
    """``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items or []) + "]"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1.5s``, ``5m0s``, ``1h0m0s``, ``250ms``."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000_000:
        unit, scale = ("µs", 1000) if ns < 1_000_000 else ("ms", 1_000_000)
        return sign + _fraction(ns, scale) + unit
    secs = _fraction(ns % 60_000_000_000, 1_000_000_000)
    minutes, hours = ns // 60_000_000_000 % 60, ns // 3_600_000_000_000
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _fraction(value: int, scale: int) -> str:
    whole, rest = divmod(value, scale)
    digits = str(rest).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(text: str, flag: str) -> int:
    """Go's ``time.ParseDuration`` (``30s``, ``1m30s``, ``1.5h``) in nanoseconds."""
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text)
    if text in ("0", ""):
        return 0
    if not parts or "".join(a + b for a, b in parts) != text:
        raise InvalidArgument(f'time: invalid duration "{text}" for --{flag}')
    return round(sum(float(n) * _UNITS[u] for n, u in parts))


# -- history strings -------------------------------------------------------------------------
def nop(shell: list[str], text: str) -> str:
    """``/bin/sh -c #(nop)  CMD ["sh"]``: the two-argument form of most instructions."""
    return " ".join([*shell, "#(nop) ", text])


def nop1(shell: list[str], text: str) -> str:
    """``/bin/sh -c #(nop) WORKDIR /app``: the one-argument form of WORKDIR, COPY, ADD."""
    return " ".join([*shell, "#(nop) " + text])


def command(ins: Instruction, shell: list[str]) -> list[str]:
    """RUN/CMD/ENTRYPOINT argv: the exec form as given, the shell form through SHELL."""
    if ins.json:
        return list(ins.args)
    return [*shell, ins.args[0]] if ins.args else []


def _pairs(ins: Instruction, lex: Lexer, env: dict[str, str]) -> list[tuple[str, str]]:
    """ENV/LABEL key-value pairs, all expanded against the environment before the line."""
    pairs = []
    for key, value in zip(ins.args[::2], ins.args[1::2], strict=True):
        k = lex.word(key, env)
        if not k:
            raise error_at(ins.line, f"{ins.keyword} names can not be blank")
        pairs.append((k, lex.word(value, env)))
    return pairs


def check_signal(text: str) -> None:
    name = text.upper()
    if name.isdigit():
        if int(name) in {s.value for s in signal.Signals}:
            return
    elif (name if name.startswith("SIG") else "SIG" + name) in signal.Signals.__members__ or \
            re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
        return
    raise InvalidArgument(f"Invalid signal: {text}")


def healthcheck(ins: Instruction) -> dict[str, Any]:
    flags = ins.flag_values({"interval": "", "timeout": "", "start-period": "",
                             "start-interval": "", "retries": ""})
    kind = ins.args[0].upper()
    if kind == "NONE":
        if len(ins.args) > 1:
            raise error_at(ins.line, "HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise error_at(ins.line, f'Unknown type "{ins.args[0]}" in HEALTHCHECK (try CMD)')
    args = ins.args[1:]
    if not args:
        raise error_at(ins.line, "Missing command after HEALTHCHECK CMD")
    test = ["CMD", *args] if ins.json else ["CMD-SHELL", args[0]]
    config: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        value = parse_duration(flags[flag] or "", flag)
        if 0 < value < 1_000_000:
            raise error_at(ins.line, f"Interval \"{flag}\" cannot be less than 1ms")
        if value:
            config[key] = value
    retries = flags["retries"] or "0"
    if not re.fullmatch(r"-?\d+", retries):
        raise error_at(ins.line, f'strconv.ParseInt: parsing "{retries}": invalid syntax')
    if int(retries) < 0:
        raise error_at(ins.line, f"--retries cannot be negative ({retries})")
    if int(retries):
        config["Retries"] = int(retries)
    return config


def healthcheck_text(h: dict[str, Any]) -> str:
    """``%q`` of Docker's ``*HealthConfig``:
    ``&{["CMD-SHELL" "x"] "30s" "0s" "0s" "0s" '\\x03'}``."""
    durations = " ".join(go_quote(go_duration(h.get(k, 0)))
                         for k in ("Interval", "Timeout", "StartPeriod", "StartInterval"))
    retries = go_quote(chr(h.get("Retries", 0)), "'")
    return f"&{{{go_q_list(h['Test'])} {durations} {retries}}}"


def apply(state: StageState, ins: Instruction, lex: Lexer, env: dict[str, str],
          note: Any) -> str:
    """Apply a metadata instruction (not ARG) to ``state``; returns its history line.
    ``note`` prints a line in the build output, as Docker's own remarks."""
    cfg, k, shell = state.config, ins.keyword, state.shell
    if k == "ENV":
        pairs = _pairs(ins, lex, env)
        instructions.set_env(cfg, pairs)
        return nop(shell, "ENV " + " ".join(f"{a}={b}" for a, b in pairs))
    if k == "LABEL":
        pairs = _pairs(ins, lex, env)
        instructions.set_labels(cfg, pairs)
        return nop(shell, "LABEL " + " ".join(f"{a}={b}" for a, b in pairs))
    if k == "EXPOSE":
        ports = [p for arg in ins.args for p in lex.words(arg, env)]
        instructions.add_ports(cfg, ports)
        return nop(shell, "EXPOSE " + " ".join(ports))
    if k == "VOLUME":
        paths = [lex.word(a, env) for a in ins.args]
        instructions.add_volumes(cfg, paths)
        return nop(shell, f"VOLUME [{' '.join(paths)}]")
    if k == "USER":
        cfg["User"] = lex.word(ins.args[0], env)
        return nop(shell, "USER " + cfg["User"])
    if k == "STOPSIGNAL":
        sig = lex.word(ins.args[0], env)
        check_signal(sig)
        cfg["StopSignal"] = sig
        return nop(shell, "STOPSIGNAL " + sig)
    if k == "CMD":
        cfg["Cmd"] = command(ins, shell)
        state.cmd_set = bool(ins.args)
        return nop(shell, "CMD " + go_q_list(cfg["Cmd"]))
    if k == "ENTRYPOINT":
        cfg["Entrypoint"] = command(ins, shell)
        if not state.cmd_set:
            cfg["Cmd"] = None  # Docker: an ENTRYPOINT resets the CMD it inherited
        return nop(shell, "ENTRYPOINT " + go_q_list(cfg["Entrypoint"]))
    if k == "SHELL":
        cfg["Shell"] = list(ins.args)
        return nop(state.shell, f"SHELL [{' '.join(ins.args)}]")
    if k == "HEALTHCHECK":
        old = (cfg.get("Healthcheck") or {}).get("Test") or []
        if old and old[0] != "NONE":
            note(f"Note that overriding HEALTHCHECK: [{' '.join(old)}]")
        cfg["Healthcheck"] = healthcheck(ins)
        return nop(shell, "HEALTHCHECK " + healthcheck_text(cfg["Healthcheck"]))
    if k == "ONBUILD":
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), ins.trigger]
        return nop(shell, "ONBUILD " + ins.trigger)
    if k == "MAINTAINER":
        state.author = ins.args[0]
        return nop(shell, "MAINTAINER " + state.author)
    raise AssertionError(f"not a metadata instruction: {k}")
