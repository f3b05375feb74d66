"""The name index (gridsim.networks.index): the cached name view is the built network's, stale or broken caches
are rebuilt, and names resolve the same on the view as on the network."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import gridsim
from gridsim.errors import NetworkError, ScenarioError
from gridsim.networks import BUILTIN_BUILDERS, FILE_SUFFIXES, build_network
from gridsim.networks import index as name_index
from gridsim.networks.index import cache_dir, network_names
from gridsim.networks.nametables import NAME_COLUMNS, NameTables, name_tables
from gridsim.networks.naming import _candidates, resolve_name, resolve_selector

HERE = Path(__file__).parent
ROOT = HERE.parent
CASE24 = HERE / "data/pglib/pglib_opf_case24_ieee_rts.m"


def _canon(tables: NameTables) -> str:
    """The view as text (NaN written out, so that equal views give equal text)."""
    return json.dumps(tables.to_dict(), sort_keys=True)


def _only_file(folder: Path) -> Path:
    files = list(folder.glob("names-*.json"))
    assert len(files) == 1, files
    return files[0]


def test_the_cached_index_of_the_built_in_grid_is_the_built_networks_view(cache):
    net = build_network("dnipro-like", load_level=0.7)
    built = name_tables(net)
    assert network_names("dnipro-like") is not None             # builds and stores
    stored = network_names("dnipro-like", load_level=0.7)         # read back (names do not depend on the load)
    assert _canon(stored) == _canon(built)
    # the view holds every column naming reads that the network has, row for row
    for table, columns in NAME_COLUMNS.items():
        df = net[table]
        assert stored[table].index == df.index.tolist()
        for c in columns:
            if c in df.columns:
                got, want = stored[table].col(c), df[c].tolist()
                assert len(got) == len(want)
                assert all(g == w or (isinstance(g, float) and math.isnan(g) and math.isnan(w))
                           for g, w in zip(got, want)), (table, c)
            else:
                assert c not in stored[table]


def test_a_hit_reads_the_cache_without_pandas_numpy_or_pandapower(cache):
    network_names("dnipro-like")
    code = ("import sys; from gridsim.networks.index import network_names; t = network_names('dnipro-like'); "
            "print(len(t.gen), sorted(m for m in ('numpy', 'pandas', 'pandapower', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(len(network_names("dnipro-like").gen)), "[]"]


def test_a_stale_key_is_rebuilt_and_overwritten(cache, monkeypatch):
    network_names("dnipro-like")
    path = _only_file(cache)
    data = json.loads(path.read_text())
    data["view"]["tables"]["gen"]["columns"]["plant"][0] = "Planted name"   # what a stale view would hold
    data["key"]["sources"] = "0" * 64                                       # made from other data files
    path.write_text(json.dumps(data))
    assert "Planted name" not in _candidates(network_names("dnipro-like"), "plant")
    assert json.loads(path.read_text())["key"] == name_index._identity_and_key("dnipro-like", None, None)[1]
    # a new gridsim version or changed data files change the key, so the stored view is rebuilt
    monkeypatch.setattr(gridsim, "__version__", "9.9.9")
    key = name_index._identity_and_key("dnipro-like", None, None)[1]
    assert key["gridsim"] == "9.9.9" and name_index._read(path, key) is None
    network_names("dnipro-like")
    assert json.loads(path.read_text())["key"]["gridsim"] == "9.9.9"


@pytest.mark.parametrize("edit", ["data/dnipro_like.json", "bridges.py", "networks/synthetic_branches.py"])
def test_the_key_follows_the_bytes_of_the_code_and_data_that_build_the_grid(cache, monkeypatch, tmp_path, edit):
    before = name_index._identity_and_key("dnipro-like", None, None)[1]
    package = tmp_path / "pkg"
    shutil.copytree(name_index._PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(name_index, "_PACKAGE", package)
    assert name_index._identity_and_key("dnipro-like", None, None)[1] == before      # same bytes, same key
    changed = package / edit                   # bridges.py: a module the planner imports, not in networks/
    changed.write_bytes(changed.read_bytes() + b"\n")
    name_index._package_digest.cache_clear()          # read once a process: a new process sees the edit
    assert name_index._identity_and_key("dnipro-like", None, None)[1]["sources"] != before["sources"]


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"key": 1}', "\x00\x01", None])
def test_a_corrupt_or_unreadable_cache_is_rebuilt_never_an_error(cache, content):
    want = _canon(network_names("dnipro-like"))
    path = _only_file(cache)
    if content is None:
        path.unlink()
        path.mkdir()             # a folder where the file should be: unreadable, and not writable either
    else:
        path.write_text(content)
    assert _canon(network_names("dnipro-like")) == want


def test_a_broken_view_under_the_right_key_is_rebuilt(cache):
    want = _canon(network_names("dnipro-like"))
    path = _only_file(cache)
    data = json.loads(path.read_text())
    del data["view"]["tables"]["gen"]["columns"]["name"][3]             # a column shorter than its index
    path.write_text(json.dumps(data))
    assert _canon(network_names("dnipro-like")) == want


def test_an_unwritable_cache_folder_costs_only_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(blocker / "cache"))     # inside a file: cannot be created
    assert len(network_names("dnipro-like").bus) == len(build_network("dnipro-like").bus)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("GRIDSIM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "gridsim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "gridsim"


def test_a_matpower_file_is_keyed_by_its_bytes(cache, tmp_path):
    case = tmp_path / "case.m"
    case.write_bytes(CASE24.read_bytes())
    assert _canon(network_names(str(case))) == _canon(name_tables(build_network(str(case))))
    assert _canon(network_names(str(case))) == _canon(name_tables(build_network(str(case))))   # from the cache
    path = _only_file(cache)
    case.write_text(case.read_text().replace("mpc.bus = [", "mpc.bus = [\n", 1))
    key = name_index._identity_and_key(str(case), None, None)[1]
    assert name_index._read(path, key) is None                            # the edited file is another network


def test_network_errors_are_build_networks_errors(cache, tmp_path):
    for spec, kwargs in (("nowhere.m", {}), ("dnipro-lik", {}), ("dnipro-like", {"load_level": 0.0}),
                         (str(CASE24), {"network_root": tmp_path})):
        with pytest.raises(NetworkError) as built:
            build_network(spec, tmp_path, **kwargs)
        with pytest.raises(NetworkError) as indexed:
            network_names(spec, tmp_path, **kwargs)
        assert str(indexed.value) == str(built.value)


def test_the_built_ins_and_suffixes_named_without_importing_pandapower_are_the_real_ones():
    from gridsim.networks import _builtins
    from gridsim.networks.importers import READERS

    assert set(_builtins()) == set(BUILTIN_BUILDERS)
    assert set(FILE_SUFFIXES) == set(READERS)


def _outcome(call):
    try:
        return call()
    except ScenarioError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("network", ["dnipro-like", str(CASE24)])
def test_names_and_selectors_resolve_alike_on_the_view_and_the_network(cache, network):
    net = build_network(network)
    view = network_names(network)
    probes = []
    for kind in ("plant", "unit", "interconnector", "substation", "line", "transformer", "bus", "load", "dam"):
        names = _candidates(net, kind)
        assert _candidates(view, kind) == names
        probes += [(kind, n) for n in names[:40]] + [(kind, n + "x") for n in names[:2]] + [(kind, "Nowhere")]
    probes += [("branch", 3), ("branch", 9999), ("generator", 2), ("bus", "7"), ("line", "1-2"), ("line", "3-24"),
               ("line", "1-2#2"), ("unit", "Dnipro-like HPP")]
    for kind, target in probes:
        assert _outcome(lambda: resolve_name(view, kind, target)) == _outcome(lambda: resolve_name(net, kind, target))
    selectors = [{"kind": k} for k in ("plant", "unit", "interconnector", "substation", "line", "transformer", "load")]
    selectors += [{"kind": "plant", "fuel": "hydro"}, {"kind": "unit", "fuel": "hydr"},
                  {"kind": "line", "voltage_kv": 330},
                  {"kind": "substation", "voltage_kv": 750}, {"kind": "transformer", "voltage_kv": 330},
                  {"kind": "load", "region": "Dnipro"}, {"kind": "line", "region": "Dnipr"},
                  {"kind": "substation", "name": "*HPP*"}, {"kind": "line", "name": "*#2"},
                  {"kind": "line", "fuel": "coal"}, {"kind": "load", "name": "no such*"}, {"kind": "dam"},
                  {"kind": "unit", "fuel": "wind", "region": "area 1", "voltage_kv": 138}]
    for s in selectors:
        sel = SimpleNamespace(**{"fuel": None, "region": None, "voltage_kv": None, "name": None, **s})
        assert _outcome(lambda: resolve_selector(view, sel)) == _outcome(lambda: resolve_selector(net, sel))


def test_validate_with_the_index_imports_no_numpy_pandas_or_pandapower(cache):
    """The start-up target of `gridsim validate`: with the index cached, names, selectors and an attack's targets
    and zones resolve on the view alone."""
    scenarios = [str(ROOT / "scenarios" / f) for f in ("dnipro-hydro-strike.yaml", "winter-salvo-defend.yaml",
                                                        "rts24-worst-5.yaml")]
    code = ("import sys; from gridsim.cli import main; code = main(['validate', *sys.argv[1:]]); "
            "print(code, sorted(m for m in ('numpy', 'pandas', 'pandapower', 'scipy', 'matplotlib') "
            "if m in sys.modules))")
    first = subprocess.run([sys.executable, "-c", code, *scenarios], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", code, *scenarios], capture_output=True, text=True, check=True)
    assert first.stdout.splitlines()[-1].startswith("0 ")          # the first run builds the networks
    assert again.stdout.splitlines()[-1] == "0 []"
    assert "attack: 96 weapons, 19 target assets" in again.stdout.replace("\n", " ")
