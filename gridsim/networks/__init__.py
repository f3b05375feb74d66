"""Networks: ``build_network(spec)`` returns a fresh pandapowerNet that follows the data contract
(docs/architecture.md). Built-ins are a registry, not an if/elif chain."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gridsim.errors import NetworkError, did_you_mean
from gridsim.limits import MAX_PATH_CHARS, clip, resolve_inside

if TYPE_CHECKING:
    import pandapower as pp

#: name -> "module:function" that builds the built-in grid from a load level, imported on first use (so that
#: naming a built-in, as ``gridsim validate`` does, does not import pandapower)
BUILTIN_BUILDERS: dict[str, str] = {"dnipro-like": "gridsim.networks.synthetic:build_dnipro_like"}
#: name -> builder(load_level) for the built-in grids. Filled lazily to keep imports cheap.
BUILTINS: dict[str, Callable[[float], pp.pandapowerNet]] = {}
#: suffixes of the network files ``importers.READERS`` reads (tests/test_importers.py checks they agree)
FILE_SUFFIXES: tuple[str, ...] = (".m", ".json")


def _builtins() -> dict[str, Callable[[float], pp.pandapowerNet]]:
    if not BUILTINS:
        for name, target in BUILTIN_BUILDERS.items():
            module, function = target.split(":")
            BUILTINS[name] = getattr(importlib.import_module(module), function)
    return BUILTINS


def builtin_names() -> list[str]:
    return sorted(BUILTIN_BUILDERS)


def network_file(spec: str, base_dir: str | Path | None = None,
                 network_root: str | Path | None = None) -> Path | None:
    """The file a network ``spec`` names (relative paths taken relative to ``base_dir``), or None when ``spec``
    is a built-in or ``pandapower:<case>``. With ``network_root``, the file must lie inside that folder once
    ``..`` and symlinks are resolved. Raises NetworkError for an unknown spec or a file outside the root; does
    not read the file."""
    builtins = BUILTIN_BUILDERS
    if spec in builtins or spec.startswith("pandapower:"):
        return None
    path = Path(spec)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.suffix.lower() not in importers_suffixes():
        raise NetworkError(
            f"unknown network '{clip(spec)}'{did_you_mean(spec, builtins)}: expected a built-in name "
            f"({', '.join(sorted(builtins))}), 'pandapower:<case>' or a path to a .m or .json file"
        )
    if network_root is None:
        return path
    root = Path(network_root)
    if not root.is_dir():
        raise NetworkError(f"network root {clip(root, MAX_PATH_CHARS)} is not a folder")
    if resolve_inside(path, root) is None:
        shown = clip(path, MAX_PATH_CHARS)
        if str(path.resolve()) != str(path):
            shown += f" (that is {clip(path.resolve(), MAX_PATH_CHARS)})"
        raise NetworkError(f"network file {shown} is outside the network root "
                           f"{clip(root.resolve(), MAX_PATH_CHARS)} (--network-root): only files inside it are "
                           "read; move the file there or drop --network-root if you trust the scenario")
    return path


def importers_suffixes() -> tuple[str, ...]:
    return FILE_SUFFIXES


def build_network(spec: str, base_dir: str | Path | None = None, load_level: float = 1.0, *,
                  network_root: str | Path | None = None) -> pp.pandapowerNet:
    """Build the network named by ``spec``.

    ``spec`` is a built-in name (``dnipro-like``), ``pandapower:<case>`` (a function of
    ``pandapower.networks``, e.g. ``pandapower:case118``), or a path to a MATPOWER ``.m`` or pandapower
    ``.json`` file (relative paths are taken relative to ``base_dir``). Loads are scaled to ``load_level``.
    With ``network_root`` (``gridsim run --network-root DIR``), a network file must lie inside that folder.
    A network built once is kept in the user's cache folder and read back next time
    (``gridsim.networks.netcache``: keyed by the code, the libraries, the file's bytes and the load level).
    """
    from gridsim.networks.netcache import cached_network

    if load_level <= 0:
        raise NetworkError(f"load_level must be positive, got {load_level}")
    return cached_network(spec, base_dir, load_level, network_root, _build)


def _build(spec: str, base_dir: str | Path | None, load_level: float,
           network_root: str | Path | None) -> pp.pandapowerNet:
    """``build_network`` without the cache."""
    from gridsim.networks import importers

    builtins = _builtins()
    if spec in builtins:
        return builtins[spec](load_level)
    path = network_file(spec, base_dir, network_root)
    if path is None:
        net = importers.load_pandapower_case(spec.split(":", 1)[1])
    else:
        if not path.exists():
            raise NetworkError(f"network file not found: {clip(path, MAX_PATH_CHARS)}")
        net = importers.READERS[path.suffix.lower()](path)
    if load_level != 1.0:
        net.load["p_mw"] *= load_level
        net.load["q_mvar"] *= load_level
    return net
