"""Variable substitution in Dockerfile words, by BuildKit's rules (``shell/lex.go``).

Not a shell: only ``$V``, ``${V}``, the ``${V:-x}``/``${V:+x}``/``${V:?x}`` modifiers (and
their colon-less forms), ``${V#p}``/``${V%p}`` trims, quotes and the escape character are
understood. Quotes are removed, as Docker removes them from ENV, LABEL, COPY… arguments.
"""

from __future__ import annotations

import fnmatch
import re

from ..errors import InvalidArgument

SPECIAL = set("@*#?-$!0")  # shell special parameters: $@, $# … expand to "" like unset ones


class Lexer:
    """Expands words against an environment; ``escape`` is the Dockerfile's escape token."""

    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def word(self, text: str, env: dict[str, str]) -> str:
        """One word (ENV value, COPY source, WORKDIR …): expanded, quotes removed."""
        return self._run(text, env)[0]

    def words(self, text: str, env: dict[str, str]) -> list[str]:
        """Several words split on unquoted blanks, after expansion (EXPOSE ``$PORTS``)."""
        return self._run(text, env)[1]

    def heredoc(self, text: str, env: dict[str, str]) -> str:
        """A COPY heredoc's content: variables expand, quotes and other text stay as they are
        (BuildKit's ``SkipProcessQuotes``)."""
        return self._run(text, env, quotes=False)[0]

    def _run(self, text: str, env: dict[str, str], quotes: bool = True,
             ) -> tuple[str, list[str]]:
        try:
            return _Scan(text, env, self.escape, quotes).run()
        except InvalidArgument as e:
            raise InvalidArgument(f'failed to process "{text}": {e}') from None


class _Words:
    """Word splitting as the lexer goes: blanks end a word unless quoted or escaped."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.current = ""
        self.started = False

    def add(self, text: str, raw: bool) -> None:
        """``raw`` text (quoted, escaped) never splits; expanded text splits on blanks."""
        if raw:
            self.current += text
            self.started = True
            return
        for ch in text:
            if ch in " \t\n":
                self._end()
            else:
                self.current += ch
                self.started = True

    def _end(self) -> None:
        if self.started:
            self.words.append(self.current)
        self.current, self.started = "", False

    def done(self) -> list[str]:
        self._end()
        return self.words


class _Scan:
    def __init__(self, text: str, env: dict[str, str], escape: str, quotes: bool = True,
                 ) -> None:
        self.s = text
        self.i = 0
        self.env = env
        self.escape = escape
        self.quotes = quotes

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def run(self) -> tuple[str, list[str]]:
        out, words = self.until("")
        return out, words

    def until(self, stop: str) -> tuple[str, list[str]]:
        """Process up to the unquoted ``stop`` character (consumed), or to the end."""
        result: list[str] = []
        words = _Words()
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.done()
            if ch == "'" and self.quotes:
                text = self.single_quote()
                words.add(text, raw=True)
            elif ch == '"' and self.quotes:
                text = self.double_quote()
                words.add(text, raw=True)
            elif ch == "$":
                text = self.dollar()
                words.add(text, raw=False)
            else:
                self.next()
                if ch == self.escape and (self.quotes or self.peek() in ("$", self.escape)):
                    if self.i >= len(self.s):
                        break  # a trailing escape is dropped
                    ch = self.next()
                    words.add(ch, raw=True)
                else:
                    words.add(ch, raw=ch not in " \t\n")
                text = ch
            result.append(text)
        if stop:
            raise InvalidArgument(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.done()

    def single_quote(self) -> str:
        self.next()
        end = self.s.find("'", self.i)
        if end < 0:
            raise InvalidArgument(
                "unexpected end of statement while looking for matching single-quote")
        text = self.s[self.i : end]
        self.i = end + 1
        return text

    def double_quote(self) -> str:
        """``$`` expands; the escape character only escapes ``"``, ``$`` and itself."""
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise InvalidArgument(
                    "unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            if ch == self.escape:
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.i
        if self.peek().isdigit():
            while self.peek().isdigit():
                self.next()
            return self.s[start : self.i]
        if self.peek() in SPECIAL:
            return self.next()
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.s[start : self.i]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.next()
        if self.peek() in ("", "{", "}", ":"):
            raise InvalidArgument("syntax error: bad substitution" if self.peek()
                                  else "syntax error: missing '}'")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        if not ch:
            raise InvalidArgument("syntax error: missing '}'")
        colon = ch == ":"
        modifier = self.next() if colon else ch
        if modifier in ("#", "%") and not colon:
            longest = self.peek() == modifier
            if longest:
                self.next()
            pattern = self.until("}")[0]
            return _trim(self.env.get(name, ""), pattern, modifier == "#", longest)
        if modifier not in ("-", "+", "?"):
            raise InvalidArgument(f"unsupported modifier ({modifier}) in substitution")
        word = self.until("}")[0]
        is_set = name in self.env
        value = self.env.get(name, "")
        present = bool(value) if colon else is_set
        if modifier == "-":
            return value if present else word
        if modifier == "+":
            return word if present else ""
        if not present:
            raise InvalidArgument(f"{name}: {word or 'is not allowed to be unset'}")
        return value


def _trim(value: str, pattern: str, prefix: bool, longest: bool) -> str:
    """``${V#p}``/``${V##p}`` remove a matching prefix, ``${V%p}``/``${V%%p}`` a suffix."""
    regex = re.compile(fnmatch.translate(pattern))
    cuts = range(len(value) + 1)
    order = reversed(cuts) if longest else cuts
    for n in order:
        part = value[:n] if prefix else value[len(value) - n :]
        if regex.match(part):
            return value[n:] if prefix else value[: len(value) - n]
    return value
