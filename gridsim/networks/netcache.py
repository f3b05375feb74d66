"""The built network, kept in the user's cache folder: ``build_network`` reads it back (~10 ms) instead of
building it again (the built-in grid: ~0.3-0.5 s in a fresh process, pandapower's ``__init__`` included).

``cached_network(spec, base_dir, load_level, network_root, build)`` returns ``build(spec, base_dir, load_level,
network_root)``, from the cache when the stored key matches. The key is the name index's
(``gridsim.networks.index``: gridsim's version and the bytes of its code and data, the installed numpy, scipy,
pandas and pandapower, a network file's bytes) plus the load level, which changes the loads, the switched
shunts and the dispatch of the built-in grid. One file per network and load level (``net-<digest>.pkl``, at
most ``KEEP`` of them: the oldest go first), in the name index's folder, written atomically.

The file is a line of JSON (the key) and a pickle of the pandapowerNet (all its tables and entries, as built).
pandapower's own ``from_json`` takes ~0.25 s for the built-in grid, a pickle ~10 ms. The pickle is read back
only when the key matches, and only with the classes a network's tables are made of (``_ALLOWED``): any other
global in the file (a file someone else wrote there) makes it unreadable, as a corrupt, truncated or stale file
is; then the network is built again and the file replaced, never an error.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable
from pathlib import Path

from gridsim.networks.index import _digest, _identity_and_key, cache_dir

#: most cached networks kept (load levels x networks); a folder of them stays under ~10 MB for the built-in grid
KEEP = 24
_PREFIX = "net-"
_SUFFIX = ".pkl"

#: module -> names a cached network may name: numpy arrays and dtypes, pandas frames, indexes, blocks and
#: extension arrays, pandapower's net class, and the harmless builtins pickle uses for them
_ALLOWED: dict[str, frozenset[str] | None] = {
    "builtins": frozenset({"slice", "complex", "set", "frozenset", "bytearray", "range"}),
    "numpy": frozenset({"dtype", "ndarray"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy.dtypes": None,
    "pandas._libs.internals": frozenset({"_unpickle_block"}),
    "pandas._libs.tslibs.timestamps": frozenset({"_unpickle_timestamp"}),
    "pandas._libs.tslibs.timedeltas": frozenset({"_timedelta_unpickle"}),
    "pandas.core.frame": frozenset({"DataFrame"}),
    "pandas.core.series": frozenset({"Series"}),
    "pandas.core.internals.managers": frozenset({"BlockManager", "SingleBlockManager"}),
    "pandas.core.internals.blocks": frozenset({"new_block"}),
    "pandas.core.indexes.base": frozenset({"Index", "_new_Index"}),
    "pandas.core.indexes.range": frozenset({"RangeIndex"}),
    "pandas.core.indexes.multi": frozenset({"MultiIndex"}),
    "pandas.core.arrays.integer": frozenset({"Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype",
                                             "UInt16Dtype", "UInt32Dtype", "UInt64Dtype", "IntegerArray"}),
    "pandas.core.arrays.floating": frozenset({"Float32Dtype", "Float64Dtype", "FloatingArray"}),
    "pandas.core.arrays.boolean": frozenset({"BooleanDtype", "BooleanArray"}),
    "pandas.core.arrays.string_": frozenset({"StringDtype", "StringArray"}),
    "pandas.core.arrays.categorical": frozenset({"Categorical"}),
    "pandas.core.dtypes.dtypes": frozenset({"CategoricalDtype"}),
    "pandapower.auxiliary": frozenset({"pandapowerNet"}),
}


class _TablesOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        allowed = _ALLOWED.get(module, frozenset())
        if allowed is not None and name not in allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a cached network")
        return super().find_class(module, name)


def cached_network(spec: str, base_dir: str | Path | None, load_level: float, network_root: str | Path | None,
                   build: Callable):
    """``build(spec, base_dir, load_level, network_root)``, read from the cache when it holds that network."""
    identity, key = _identity_and_key(spec, base_dir, network_root)   # raises what build raises for the spec
    if key is None:
        return build(spec, base_dir, load_level, network_root)
    level = float(load_level).hex()
    key = {**key, "load_level": level}
    name = _digest("\0".join((identity, level)).encode())[:20]
    path = cache_dir() / f"{_PREFIX}{name}{_SUFFIX}"
    net = _read(path, key)
    if net is None:
        net = build(spec, base_dir, load_level, network_root)
        _write(path, key, net)
    return net


def _read(path: Path, key: dict):
    try:
        data = path.read_bytes()
        head, _, body = data.partition(b"\n")
        if json.loads(head) != key:
            return None
        net = _TablesOnly(io.BytesIO(body)).load()
    except Exception:  # noqa: BLE001 -- whatever is wrong with the file, the network is built again
        return None
    return net if type(net).__name__ == "pandapowerNet" else None


def _write(path: Path, key: dict, net) -> None:
    from gridsim._atomic import atomic_write_bytes

    try:
        body = pickle.dumps(net, protocol=pickle.HIGHEST_PROTOCOL)
        _TablesOnly(io.BytesIO(body)).load()      # a network holding other objects is not kept: it would not load
        head = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
        atomic_write_bytes(path, head + b"\n" + body)
        _prune(path.parent)
    except Exception:  # noqa: BLE001 -- a cache that cannot be written costs the next run a build, nothing more
        pass


def _prune(folder: Path) -> None:
    """Remove the least recently written network files beyond ``KEEP``."""
    files = []
    for p in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
        try:
            files.append((p.stat().st_mtime_ns, p))
        except OSError:
            continue
    for _, p in sorted(files, reverse=True)[KEEP:]:
        try:
            p.unlink()
        except OSError:
            pass
