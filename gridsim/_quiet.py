"""Third-party chatter, kept away from the user: the command line shows gridsim's own words only.

pandapower logs through the logging module (with no handler configured, Python's last-resort handler prints
its WARNINGs to stderr: e.g. "numba cannot be imported ..." four lines at a time on every DC power flow), and
pandas, matplotlib or scipy issue warnings (often attributed to the gridsim line that called them). None of it
says anything about the user's scenario, so ``quiet_third_party()`` routes log records of other libraries to a
counter and ignores warnings while the command runs: gridsim tells users what they need in its results, notes
and error messages, never through warnings. Records of gridsim's own loggers pass. ``--debug`` shows
everything (the CLI then does not use this).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

OURS = "gridsim"


class _Counter(logging.Handler):
    """Counts the records of other libraries by level and drops them."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.errors = 0
        self.hidden = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == OURS or record.name.startswith(OURS + "."):
            logging.lastResort.handle(record)
            return
        self.hidden += 1
        self.errors += record.levelno >= logging.ERROR


@contextmanager
def quiet_third_party() -> Iterator[_Counter]:
    """Within the block, other libraries' log records and all warnings are not printed; the yielded counter
    says how many log records were hidden (``hidden``) and how many of those were errors (``errors``)."""
    root = logging.getLogger()
    counter = _Counter()
    root.addHandler(counter)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield counter
    finally:
        root.removeHandler(counter)


def hidden_note(counter: _Counter) -> str | None:
    """One line of ours when another library reported errors, else None (warnings stay silent)."""
    if not counter.errors:
        return None
    return (f"note: {counter.errors} error message(s) from libraries gridsim uses were hidden; run with --debug "
            "to see them")


class _NoNumbaNotice(logging.Filter):
    """Drops pandapower's "numba cannot be imported" notice: pandapower checks for numba on every DC power
    flow whatever it is asked, and gridsim never uses numba (its compile time would be paid by every one-shot
    run), so the notice says nothing to anyone. Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "numba cannot be imported" not in str(record.msg)


def mute_numba_notice() -> None:
    """Install the filter on pandapower's logger (once; called where gridsim imports pandapower)."""
    logger = logging.getLogger("pandapower.auxiliary")
    if not any(isinstance(f, _NoNumbaNotice) for f in logger.filters):
        logger.addFilter(_NoNumbaNotice())
