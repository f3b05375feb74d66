"""The result store of a batch run: ``results.sqlite`` in the output folder, one row per finished case.

SQLite in WAL mode, one transaction per chunk of cases: a run killed at any moment (even with SIGKILL) leaves
every committed chunk intact and nothing half-written, so ``--resume`` skips exactly the finished cases. The
``meta`` table records which run the rows belong to (scenario, network, kind); resuming into a store of another
run is refused with a ``StoreMismatch`` (a ``GridsimError``: exit code 2 on the command line). CSV and Parquet
exports are read from the store and written atomically.

Beside ``CASE_COLUMNS`` a row has ``extras``: the record's ``EXTRAS`` dict as JSON text (``{}`` when it has
none), read back with ``extras_of``. A store written before that column existed gets it on opening (its rows
read as ``{}``), so an old run still resumes.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim._atomic import atomic_write_bytes, atomic_write_text
from gridsim.batch.cases import CASE_COLUMNS, EXTRAS, CaseSpec
from gridsim.errors import GridsimError

#: bumped when the table layout changes (a store of another version is never resumed)
STORE_VERSION = 1
_TEXT, _INT = ("status", "message"), ("n_islands", "n_overloaded")


class StoreMismatch(GridsimError):
    """``--resume`` pointed at a store written by a different run."""


def _sql_type(column: str) -> str:
    return "TEXT" if column in _TEXT else "INTEGER" if column in _INT else "REAL"


def outages_text(case: CaseSpec) -> str:
    """A case's outage items as canonical JSON (stored with its row, compared on resume)."""
    return json.dumps([dict(item) for item in case.outages], sort_keys=True, default=str)


def extras_text(extras: Mapping[str, Any] | None) -> str:
    """A record's extras as canonical JSON text (``{}`` for none)."""
    if extras is None:
        return "{}"
    if not isinstance(extras, Mapping):
        raise TypeError(f"a record's {EXTRAS!r} must be a dict, got {type(extras).__name__}")
    return json.dumps(dict(extras), sort_keys=True, default=float)


def extras_of(text: Any) -> dict[str, Any]:
    """The extras dict of a stored row's ``extras`` text (``{}`` for none, empty or missing)."""
    if isinstance(text, Mapping):
        return dict(text)
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        return {}
    return json.loads(str(text))


def _value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _TEXT:
        return str(value)
    if column in _INT:
        return None if isinstance(value, float) and math.isnan(value) else int(value)
    value = float(value)
    return None if math.isnan(value) else value


class ResultStore:
    """Rows of finished cases, keyed by ``case_id``. ``path=":memory:"`` keeps them in memory only.

    ``identity`` describes the run (JSON-ready); with ``resume=True`` an existing store must have the same
    identity, with ``resume=False`` an existing store is emptied.
    """

    def __init__(self, path: str | Path, identity: Mapping[str, Any], *, resume: bool = False):
        self.path = path if path == ":memory:" else Path(path)
        self.identity = {"store_version": STORE_VERSION, **identity}
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")   # with WAL: a killed process loses no commit
        cols = ", ".join(f'"{c}" {_sql_type(c)}' for c in CASE_COLUMNS)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS results (case_id TEXT PRIMARY KEY, outages TEXT NOT "
                              f"NULL, {cols}, written_at REAL NOT NULL, {EXTRAS} TEXT)")
            self._add_extras_column()
            self._claim(resume)

    def _add_extras_column(self) -> None:
        """A store from before the ``extras`` column: add it (old rows read as ``{}``)."""
        have = {row[1] for row in self.conn.execute("PRAGMA table_info(results)")}
        missing = [c for c in ("case_id", "outages", *CASE_COLUMNS) if c not in have]
        if missing:
            raise StoreMismatch(f"{self.path} is not a gridsim result store of this version (no column "
                                f"{', '.join(missing)}); choose another output folder or delete it")
        if EXTRAS not in have:
            try:
                self.conn.execute(f"ALTER TABLE results ADD COLUMN {EXTRAS} TEXT")
            except sqlite3.OperationalError as exc:
                raise StoreMismatch(f"{self.path} predates the 'extras' column and cannot be upgraded ({exc}); "
                                    "run without --resume into another output folder") from exc

    # -- identity ----------------------------------------------------------------------------------------
    def _claim(self, resume: bool) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        mine = json.loads(json.dumps(self.identity, default=str))
        if row is not None and resume:
            theirs = json.loads(row[0])
            if "engine" in mine and theirs.get("engine") != mine["engine"]:
                raise StoreMismatch(f"{self.path} holds cases computed by another version of gridsim or of the "
                                    f"libraries it uses ({_differences(theirs.get('engine') or {}, mine['engine'])}"
                                    "); resuming would mix the two: run without --resume to start over, or "
                                    "choose another output folder")
            if theirs != mine:
                raise StoreMismatch(f"{self.path} holds the results of a different run ({_differences(theirs, mine)}"
                                    "); run without --resume to start over, or choose another output folder")
            return
        self.conn.execute("DELETE FROM results")
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('identity', ?)", (json.dumps(mine, sort_keys=True),))

    # -- rows --------------------------------------------------------------------------------------------
    def finished(self, cases: Iterable[CaseSpec]) -> set[str]:
        """Ids of the cases that already have a row for the same outages."""
        stored = dict(self.conn.execute("SELECT case_id, outages FROM results"))
        return {c.case_id for c in cases if stored.get(c.case_id) == outages_text(c)}

    def write(self, rows: Iterable[tuple[CaseSpec, Mapping[str, Any]]]) -> int:
        """Insert (or replace) the records of a chunk of cases in one transaction; returns how many."""
        now = time.time()
        values = [(case.case_id, outages_text(case), *(_value(c, rec.get(c)) for c in CASE_COLUMNS), now,
                   extras_text(rec.get(EXTRAS))) for case, rec in rows]
        names = ", ".join(f'"{c}"' for c in ("case_id", "outages", *CASE_COLUMNS, "written_at", EXTRAS))
        marks = ", ".join("?" * (len(CASE_COLUMNS) + 4))
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(f"INSERT OR REPLACE INTO results ({names}) VALUES ({marks})", values)
        return len(values)

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def frame(self, case_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The rows as a DataFrame indexed by ``case_id`` (``outages`` as JSON text, then ``CASE_COLUMNS``, then
        ``extras`` as JSON text: ``extras_of`` reads it), in the order of ``case_ids`` when given (ids without a
        row are left out), else by ``case_id``."""
        cols = ", ".join(f'"{c}"' for c in (*CASE_COLUMNS, EXTRAS))
        df = pd.read_sql_query(f"SELECT case_id, outages, {cols} FROM results ORDER BY case_id", self.conn,
                               index_col="case_id")
        df[EXTRAS] = df[EXTRAS].fillna("{}").astype(str)
        for c in CASE_COLUMNS:
            if c not in _TEXT:
                df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        for c in _TEXT:
            df[c] = df[c].fillna("").astype(str)
        if case_ids is not None:
            df = df.reindex([i for i in case_ids if i in df.index])
        return df

    # -- exports -----------------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.frame().to_csv(float_format="%.10g"))

    def export_parquet(self, path: str | Path) -> Path:
        buf = io.BytesIO()
        self.frame().to_parquet(buf)
        return atomic_write_bytes(path, buf.getvalue())

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _differences(theirs: Mapping[str, Any], mine: Mapping[str, Any], prefix: str = "") -> str:
    """Which identity fields differ, e.g. "kind: 'plant' there, 'substation' now"."""
    out = []
    for key in sorted(set(theirs) | set(mine)):
        a, b = theirs.get(key), mine.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out.append(_differences(a, b, f"{prefix}{key}."))
        else:
            out.append(f"{prefix}{key}: {_short(a)} there, {_short(b)} now")
    return "; ".join(out[:4]) + ("; …" if len(out) > 4 else "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
