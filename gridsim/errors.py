"""Exceptions gridsim raises on purpose. The CLI catches GridsimError once and exits with code 2."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from gridsim.limits import MAX_NAME_CHARS, MAX_QUOTE_CHARS, clip


class GridsimError(Exception):
    """Base of every error gridsim raises deliberately (bad input, unknown names, solver trouble)."""


class ScenarioError(GridsimError):
    """A scenario file is malformed or names something that does not exist.

    ``file``/``line``/``key`` locate the problem; ``str(err)`` is the full human message.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line:
                where += f":{self.line}"
            where += ": "
        key = f"{_short_key(self.key)}: " if self.key else ""
        return f"{where}{key}{self.message}"

    def located(self, *, file: str | None = None, line: int | None = None,
                key: str | None = None) -> "ScenarioError":
        """Return a copy with missing location fields filled in."""
        return ScenarioError(self.message, file=self.file or file, line=self.line or line,
                             key=self.key or key)


class NetworkError(GridsimError):
    """A network cannot be built or loaded (unknown built-in, unreadable case file)."""


class OutputError(GridsimError):
    """The output folder cannot be created or written (a file in the way, no permission, a full disk)."""


class SolverError(GridsimError):
    """A solve failed in a way that has no fallback (raised only under --strict)."""


def _short_key(path: str) -> str:
    """A key path with every key in it quoted at most MAX_QUOTE_CHARS long."""
    return re.sub(rf"[^.\[\]]{{{MAX_QUOTE_CHARS + 1},}}", lambda m: clip(m.group()), path)


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A suggestion suffix like "; did you mean 'Dnipro HPP'?" or "" when nothing is close (or ``name`` is
    longer than any name can be). Suggestions are quoted at most MAX_QUOTE_CHARS long."""
    if len(str(name)) > MAX_NAME_CHARS:
        return ""
    cands = [str(c) for c in candidates]
    close = difflib.get_close_matches(str(name), cands, n=n, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in cands}
        close = difflib.get_close_matches(str(name).lower(), list(lowered), n=n, cutoff=0.6)
        close = [lowered[c] for c in close]
    if not close:
        return ""
    close = [clip(c) for c in close]
    if len(close) == 1:
        return f"; did you mean '{close[0]}'?"
    return "; did you mean " + ", ".join(f"'{c}'" for c in close[:-1]) + f" or '{close[-1]}'?"
