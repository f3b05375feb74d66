"""The network cache (gridsim.networks.netcache): a cached network is the built one, table for table; the load
level and a network file's bytes are part of the key; a stale, corrupt or foreign file is rebuilt, never an
error and never run."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim.networks as networks
from gridsim.errors import NetworkError
from gridsim.networks import build_network
from gridsim.networks import netcache

HERE = Path(__file__).parent
CASE24 = HERE / "data/pglib/pglib_opf_case24_ieee_rts.m"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("net-*.pkl"))


def _no_build(*args):
    raise AssertionError("built, though the cache holds this network")


def assert_same_network(got, want) -> None:
    """Every entry of two pandapowerNets equal: tables value for value (dtypes, index and column order too),
    and the dicts, lists and scalars beside them."""
    assert type(got) is type(want)
    _assert_equal(got, want, "net")


def _assert_equal(a, b, where: str) -> None:
    assert type(a) is type(b), where
    if isinstance(b, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, check_index_type=True, check_column_type=True,
                                      check_flags=True, obj=where)
    elif isinstance(b, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True, check_index_type=True, obj=where)
    elif isinstance(b, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(b, dict):
        assert list(a.keys()) == list(b.keys()), where
        for key in b:
            _assert_equal(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    elif isinstance(b, float) and np.isnan(b):
        assert np.isnan(a), where
    else:
        assert a == b, where


@pytest.mark.parametrize("load_level", [1.0, 0.7])
def test_the_cached_built_in_grid_is_the_built_one_table_for_table(cache, monkeypatch, load_level):
    fresh = networks._build("dnipro-like", None, load_level, None)
    first = build_network("dnipro-like", load_level=load_level)         # builds and stores
    assert len(_files(cache)) == 1
    monkeypatch.setattr(networks, "_build", _no_build)
    cached = build_network("dnipro-like", load_level=load_level)        # reads the file
    assert_same_network(first, fresh)
    assert_same_network(cached, fresh)
    cached.load.loc[cached.load.index[0], "p_mw"] += 100.0              # a fresh object each call
    assert_same_network(build_network("dnipro-like", load_level=load_level), fresh)


def test_the_load_level_is_part_of_the_key(cache):
    low = build_network("dnipro-like", load_level=0.5)
    high = build_network("dnipro-like", load_level=1.2)
    assert len(_files(cache)) == 2
    assert high.load.p_mw.sum() > low.load.p_mw.sum()
    assert_same_network(build_network("dnipro-like", load_level=0.5), networks._build("dnipro-like", None, 0.5, None))
    assert_same_network(build_network("dnipro-like", load_level=1.2), networks._build("dnipro-like", None, 1.2, None))


def test_a_matpower_file_is_keyed_by_its_bytes(cache, tmp_path):
    case = tmp_path / "case.m"
    case.write_bytes(CASE24.read_bytes())
    assert_same_network(build_network(str(case), load_level=0.9), networks._build(str(case), None, 0.9, None))
    assert_same_network(build_network(str(case), load_level=0.9), networks._build(str(case), None, 0.9, None))
    assert len(_files(cache)) == 1
    first_load = build_network(str(case)).load.p_mw.iloc[0]
    text = case.read_text()
    assert "\t1\t 2\t 108.0\t" in text
    case.write_text(text.replace("\t1\t 2\t 108.0\t", "\t1\t 2\t 216.0\t", 1))   # bus 1's demand doubled
    assert build_network(str(case)).load.p_mw.iloc[0] == pytest.approx(2 * first_load)
    assert_same_network(build_network(str(case)), networks._build(str(case), None, 1.0, None))


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    head, _, body = data.partition(b"\n")
    if how == "stale key":
        key = json.loads(head)
        key["sources"] = "0" * 64
        path.write_bytes(json.dumps(key).encode() + b"\n" + body)
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage body":
        path.write_bytes(head + b"\n" + b"\x80\x05garbage")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "not a network":
        path.write_bytes(head + b"\n" + pickle.dumps({"bus": 1}))
    elif how == "a folder":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("how", ["stale key", "truncated", "garbage body", "empty", "not a network", "a folder"])
def test_a_stale_or_corrupt_file_is_rebuilt_never_an_error(cache, how):
    want = networks._build("dnipro-like", None, 1.0, None)
    build_network("dnipro-like")
    [path] = _files(cache)
    _damage(path, how)
    assert_same_network(build_network("dnipro-like"), want)
    if how != "a folder":                                               # rewritten under the right key
        assert_same_network(build_network("dnipro-like"), want)
        assert netcache._read(path, json.loads(path.read_bytes().partition(b"\n")[0])) is not None


class _Planted:
    """Pickles as a call of ``subprocess.call`` (what a planted file could hold)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return subprocess.call, ([sys.executable, "-c", f"open({str(self.marker)!r}, 'w').close()"],)


def test_a_file_naming_other_code_is_not_run_and_is_rebuilt(cache, tmp_path):
    want = networks._build("dnipro-like", None, 1.0, None)
    build_network("dnipro-like")
    [path] = _files(cache)
    marker = tmp_path / "ran"
    head = path.read_bytes().partition(b"\n")[0]
    path.write_bytes(head + b"\n" + pickle.dumps(_Planted(marker)))
    assert_same_network(build_network("dnipro-like"), want)
    assert not marker.exists()


def test_an_unwritable_cache_folder_costs_only_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(blocker / "cache"))     # inside a file: cannot be created
    assert_same_network(build_network("dnipro-like"), networks._build("dnipro-like", None, 1.0, None))


def test_at_most_keep_files_are_kept_the_oldest_go(cache, monkeypatch):
    monkeypatch.setattr(netcache, "KEEP", 2)
    for level in (0.5, 0.6, 0.7):
        build_network(str(CASE24), load_level=level)
    assert len(_files(cache)) == 2
    monkeypatch.setattr(networks, "_build", _no_build)
    build_network(str(CASE24), load_level=0.7)                          # the newest two are still there
    build_network(str(CASE24), load_level=0.6)


def test_errors_are_the_builds_errors_and_nothing_is_stored(cache, tmp_path):
    for spec, root in (("nowhere.m", None), ("dnipro-lik", None), (str(CASE24), tmp_path)):
        with pytest.raises(NetworkError) as cached:
            build_network(spec, tmp_path, network_root=root)
        with pytest.raises(NetworkError) as built:
            networks._build(spec, tmp_path, 1.0, root)
        assert str(cached.value) == str(built.value)
    with pytest.raises(NetworkError, match="load_level must be positive"):
        build_network("dnipro-like", load_level=0.0)
    assert _files(cache) == []


def test_a_simulation_on_the_cached_network_gives_the_fresh_networks_numbers(cache, make_scenario):
    from gridsim.simulate import simulate

    scenario = make_scenario([{"substation": "Dnipro-like HPP"}, {"plant": "Zorya NPP"}], network="dnipro-like",
                             solver="dc", response="optimal", load_level=1.1)
    build_network("dnipro-like", load_level=1.1)
    cached = simulate(scenario, net=build_network("dnipro-like", load_level=1.1))
    fresh = simulate(scenario, net=networks._build("dnipro-like", None, 1.1, None))
    assert cached.summary == fresh.summary
    pd.testing.assert_frame_equal(cached.loads, fresh.loads, check_exact=True)
