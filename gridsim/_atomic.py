"""Atomic file writes: write to a temporary file in the target folder, then rename over the target."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600 files; outputs are for everyone to read
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def prepare_output_dir(path: str | os.PathLike) -> Path:
    """Create the output folder ``path`` (with its parents) and check that a file can be written in it, the way
    the atomic writers will, so a bad ``-o`` fails before any simulation runs. Raises OutputError with the path
    and the reason: a file where a folder should be, no permission, a read-only or full file system."""
    from gridsim.errors import OutputError

    path = Path(path)
    for ancestor in (path, *path.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                where = "is a file" if ancestor == path else f"is inside {ancestor}, which is a file"
                raise OutputError(f"output folder {path} {where}, not a folder; choose another -o folder")
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {path}: {_reason(exc)}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".gridsim-write-check.", suffix=".tmp", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write in the output folder {path}: {_reason(exc)}") from None
    return path


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
