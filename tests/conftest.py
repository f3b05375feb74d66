"""Shared test helpers: scenario factories and the invariant check every result goes through."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))   # tests/grids.py
from gridsim._threads import one_blas_thread  # noqa: E402

one_blas_thread()      # as the command line does, before grids (and so numpy) loads

import grids  # noqa: E402


@pytest.fixture(scope="session")
def _session_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gridsim-cache")


@pytest.fixture(autouse=True)
def _name_cache(_session_cache_dir, monkeypatch):
    """The name index (``gridsim.networks.index``) goes to a temporary folder, never the user's cache; tests
    (and the processes they start) share it, as runs on one machine do."""
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(_session_cache_dir))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of the test's own (``GRIDSIM_CACHE_DIR``: the name index and the network cache)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def make_scenario():
    """Factory: make_scenario(outages=[{"unit": "G2"}], solver="dc", ...) -> Scenario."""
    from gridsim.scenario import Scenario

    def make(outages=(), **fields):
        data = {"name": fields.pop("name", "test"), "network": fields.pop("network", "test-grid"),
                "outages": list(outages), **fields}
        return Scenario.model_validate(data)

    return make


@pytest.fixture
def run(make_scenario):
    """Factory: run(grid, outages, **fields) -> Result, with the invariants checked."""
    from gridsim.metrics import check_invariants
    from gridsim.simulate import simulate

    def _run(net, outages=(), **fields):
        fields.setdefault("response", "none")
        result = simulate(make_scenario(outages, **fields), net=net)
        check_invariants(result)
        return result

    return _run


@pytest.fixture
def three_bus():
    return grids.three_bus


@pytest.fixture
def two_areas():
    return grids.two_areas
