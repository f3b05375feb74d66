"""The documented bounds on user input (docs/scenarios.md, "Limits"), and the one way gridsim reads a user's file.

Every input gridsim reads is bounded so that a mistake (or a hostile file) fails fast with exit code 2 and a
message naming the limit, instead of running until memory or patience runs out:

- a scenario file holds at most ``MAX_SCENARIO_BYTES`` bytes and ``MAX_OUTAGES`` outage items;
- a name (scenario name, asset name, region, selector glob) has at most ``MAX_NAME_CHARS`` characters, a
  ``description`` at most ``MAX_TEXT_CHARS``, a ``network`` spec at most ``MAX_PATH_CHARS``, an asset number
  (``bus: 11``) at most ``MAX_NUMBER_DIGITS`` digits;
- a network file (``.m``, ``.json``) holds at most ``MAX_NETWORK_BYTES`` bytes;
- only regular files are read: a device (``/dev/zero``), a FIFO or a socket is an error before any read;
- error messages quote at most ``MAX_QUOTE_CHARS`` characters of any value a user wrote.

This module depends on nothing else in gridsim.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

MAX_SCENARIO_BYTES = 256 * 1024
MAX_OUTAGES = 5_000
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 10_000
MAX_PATH_CHARS = 1_024
MAX_NUMBER_DIGITS = 15
MAX_NETWORK_BYTES = 200 * 1024 * 1024
MAX_QUOTE_CHARS = 60

#: limit name -> (value, what it bounds), for the docs table and for messages
LIMITS: dict[str, tuple[int, str]] = {
    "MAX_SCENARIO_BYTES": (MAX_SCENARIO_BYTES, "bytes in a scenario file (or scenario text)"),
    "MAX_OUTAGES": (MAX_OUTAGES, "items in `outages`"),
    "MAX_NAME_CHARS": (MAX_NAME_CHARS, "characters in `name`, an asset name, a region or a selector glob"),
    "MAX_TEXT_CHARS": (MAX_TEXT_CHARS, "characters in `description`"),
    "MAX_PATH_CHARS": (MAX_PATH_CHARS, "characters in `network`"),
    "MAX_NUMBER_DIGITS": (MAX_NUMBER_DIGITS, "digits in a whole number that names an asset (`bus: 11`, "
                                             "`branch: 19`, `generator: 7`)"),
    "MAX_NETWORK_BYTES": (MAX_NETWORK_BYTES, "bytes in a network file (`.m` or `.json`)"),
    "MAX_PROFILE_BYTES": (20 * 1024 * 1024, "bytes in a timeline profile CSV (`timeline.profile`)"),
    "MAX_QUOTE_CHARS": (MAX_QUOTE_CHARS, "characters of a user's value quoted in an error message"),
}


def clip(text: object, limit: int = MAX_QUOTE_CHARS) -> str:
    """``text`` as a string of at most ``limit`` characters (cut with "..." and its full length)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:max(limit - 3, 1)]}... ({len(text):,} characters)"


def limit_text(name: str, unit: str = "") -> str:
    """"at most 5,000 items (MAX_OUTAGES, see docs/scenarios.md#limits)": a limit as messages name it."""
    return f"at most {LIMITS[name][0]:,}{' ' + unit if unit else ''} ({name}, see docs/scenarios.md#limits)"


_KINDS = ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO (named pipe)"),
          (stat.S_ISSOCK, "socket"))


def read_limited(path: str | os.PathLike[str], max_bytes: int, limit_name: str, what: str,
                 error: Callable[[str], Exception]) -> bytes:
    """The bytes of the regular file ``path``, or ``error(message)`` raised: not found, a folder, a device,
    FIFO or socket (checked before reading anything: the file is opened non-blocking and checked with fstat),
    unreadable, or larger than ``max_bytes`` (the limit ``limit_name``). ``what`` names the file in messages
    ("scenario file", "network file")."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{what} not found") from None
    except IsADirectoryError:
        raise error(f"is a directory, expected a {what}") from None
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"is a directory, expected a {what}")
        kind = next((word for test, word in _KINDS if test(info.st_mode)), None)
        if kind is not None or not stat.S_ISREG(info.st_mode):
            raise error(f"is a {kind or 'special file'}, not a regular file; a {what} must be a regular file")
        if info.st_size > max_bytes:
            raise error(_too_big(f"{info.st_size:,} bytes", limit_name, what))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:   # it grew since fstat
        raise error(_too_big("larger than that", limit_name, what))
    return data


def _too_big(size: str, limit_name: str, what: str) -> str:
    return f"the file is {size}; a {what} may hold {limit_text(limit_name, 'bytes')}"


def resolve_inside(path: Path, root: str | os.PathLike[str] | None) -> Path | None:
    """``path`` with symlinks and ``..`` resolved if it lies inside the folder ``root`` (also resolved), else
    None. With ``root`` None, every path is inside."""
    resolved = Path(path).resolve()
    if root is None:
        return resolved
    return resolved if resolved.is_relative_to(Path(root).resolve()) else None
