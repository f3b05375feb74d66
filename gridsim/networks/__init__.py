"""Networks: ``build_network(spec)`` returns a fresh pandapowerNet that follows the data contract
(docs/architecture.md). Built-ins are a registry, not an if/elif chain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandapower as pp

from gridsim.errors import NetworkError, did_you_mean

#: name -> builder(load_level) for the built-in grids. Filled lazily to keep imports cheap.
BUILTINS: dict[str, Callable[[float], pp.pandapowerNet]] = {}


def _builtins() -> dict[str, Callable[[float], pp.pandapowerNet]]:
    if not BUILTINS:
        from gridsim.networks.synthetic import build_dnipro_like

        BUILTINS["dnipro-like"] = build_dnipro_like
    return BUILTINS


def builtin_names() -> list[str]:
    return sorted(_builtins())


def build_network(spec: str, base_dir: str | Path | None = None, load_level: float = 1.0) -> pp.pandapowerNet:
    """Build the network named by ``spec``.

    ``spec`` is a built-in name (``dnipro-like``), ``pandapower:<case>`` (a function of
    ``pandapower.networks``, e.g. ``pandapower:case118``), or a path to a MATPOWER ``.m`` or pandapower
    ``.json`` file (relative paths are taken relative to ``base_dir``). Loads are scaled to ``load_level``.
    """
    from gridsim.networks import importers

    if load_level <= 0:
        raise NetworkError(f"load_level must be positive, got {load_level}")
    builtins = _builtins()
    if spec in builtins:
        return builtins[spec](load_level)
    if spec.startswith("pandapower:"):
        net = importers.load_pandapower_case(spec.split(":", 1)[1])
    else:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        suffix = path.suffix.lower()
        if suffix not in (".m", ".json"):
            raise NetworkError(
                f"unknown network '{spec}'{did_you_mean(spec, builtins)}: expected a built-in name "
                f"({', '.join(sorted(builtins))}), 'pandapower:<case>' or a path to a .m or .json file"
            )
        if not path.exists():
            raise NetworkError(f"network file not found: {path}")
        net = importers.load_matpower(path) if suffix == ".m" else importers.load_pandapower_json(path)
    if load_level != 1.0:
        net.load["p_mw"] *= load_level
        net.load["q_mvar"] *= load_level
    return net
