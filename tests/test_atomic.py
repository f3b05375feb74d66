"""Outputs are written atomically: a failed write leaves the old file whole and no temporary behind."""

from __future__ import annotations

import os
import stat

import pytest

from gridsim import _atomic
from gridsim._atomic import atomic_write_text


def test_write_replaces_and_is_readable_by_others(tmp_path):
    path = tmp_path / "out" / "summary.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) & 0o044          # not the 0600 of mkstemp
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "loads.csv"
    atomic_write_text(path, "complete old table")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "half of a new tab")
    assert path.read_text() == "complete old table"
    assert os.listdir(tmp_path) == ["loads.csv"]
