"""The built-in synthetic national grid ``dnipro-like``: fictional, deterministic, built by code.

The geography (regions, plants, interconnectors, the 750 kV backbone) is data in
``gridsim/data/dnipro_like.json``; the rest is drawn from a fixed-seed numpy Generator and planned the way a
transmission planner would:

1. Substations: plants and border points at their sites, the regional capital at each region's centre and
   further 330/110 kV load substations around it. Each load substation keeps its city load on its 110 kV
   busbar and feeds a 110 kV ring of towns (every load bus fed from two sides), a few on radial spurs.
2. The 330 kV mesh: minimum spanning tree of the Delaunay triangulation, made bridge-free (no single line
   cuts anything off), chains of pass-through substations broken, then densified where the detours are
   longest. The 750 kV backbone links the nuclear sites and four 750/330 kV hubs.
3. Sizing: with gridsim's dispatch (one utilisation ``u`` for every unit), a DC N-1 screen of the 330/750 kV
   grid adds parallel circuits and autotransformer banks until every branch stays below 80 % of its rating
   after any single outage there. 330/110 kV units are sized so one can be lost at peak.

Voltage support: 750 kV shunt reactors (90 % of line charging), 110 kV capacitor banks (half the reactive
demand, switched with ``load_level``), 330/115 kV units one tap step down.

The plan (plain tables: buses, branches, units, loads, shunts) is computed once per process (~0.1 s) and cached
(``synthetic_plan``, branches in ``synthetic_branches``); every call turns it into a fresh pandapowerNet with
pandapower's vectorised create functions (~0.1 s). Coordinates are km, x east, y north, in 1300 x 800 km.
"""

from __future__ import annotations

import copy
import json
from functools import cache

import numpy as np
import pandapower as pp
import pandapower.create as ppc   # not pp.create_*: the command line defers pandapower's __init__ (gridsim._lazy)
import pandas as pd

from gridsim.dispatch import DEFAULT_AVAILABILITY
from gridsim.networks.synthetic_branches import LINE_TYPES, LOSS_FACTOR, TRAFO_TYPES
from gridsim.networks.synthetic_plan import DATA_FILE, dnipro_like_plan

TAP_POS_110 = -1          # 330/115 kV units with a +-6 x 2 % tap changer run one step down (~113 kV)


def build_dnipro_like(load_level: float = 1.0) -> pp.pandapowerNet:
    """Build the synthetic grid ``dnipro-like`` with loads (p and q) scaled by ``load_level``.

    Every generator is dispatched at ``p_mw = max_p_mw * u`` with one utilisation
    ``u = min(1, 1.02 * demand / capacity)``; the largest unit is the slack, so ``pp.runpp`` works as is.
    """
    plan = dnipro_like_plan()
    net = copy.deepcopy(_empty_net())
    net.name = "dnipro-like"
    b = plan.bus
    ppc.create_buses(net, len(b), b["vn_kv"].to_numpy(), name=b["name"].to_numpy(), zone=b["region"].to_numpy())
    for col in ("substation", "region", "x_km", "y_km"):
        net.bus[col] = b[col].to_numpy()
    _create_branches(net, plan.line, plan.trafo)
    ld = plan.load
    ppc.create_loads(net, ld["bus"].to_numpy(), ld["p_mw"].to_numpy() * load_level,
                     ld["q_mvar"].to_numpy() * load_level, name=ld["name"].to_numpy())
    for col in ("region", "customers", "priority"):
        net.load[col] = ld[col].to_numpy()
    g = plan.gen
    u = min(1.0, LOSS_FACTOR * net.load["p_mw"].sum() / g["max_p_mw"].sum())
    ppc.create_gens(net, g["bus"].to_numpy(), g["max_p_mw"].to_numpy() * u, vm_pu=g["vm_pu"].to_numpy(),
                    sn_mva=g["max_p_mw"].to_numpy() / 0.85, name=g["name"].to_numpy(),
                    max_q_mvar=g["max_q_mvar"].to_numpy(), min_q_mvar=g["min_q_mvar"].to_numpy(),
                    min_p_mw=0.0, max_p_mw=g["max_p_mw"].to_numpy(), slack=g["slack"].to_numpy(),
                    controllable=True)
    for col in ("plant", "fuel", "kind", "region"):
        net.gen[col] = g[col].to_numpy()
    sh = plan.shunt
    q = sh["q_mvar"].to_numpy() * np.where(sh["switched"].to_numpy(), load_level, 1.0)
    ppc.create_shunts(net, sh["bus"].to_numpy(), q, name=sh["name"].to_numpy())
    net["regions"] = plan.regions.copy()
    net["availability"] = dict(DEFAULT_AVAILABILITY)
    net["river"] = _river()
    return net


def _river() -> pd.DataFrame:
    """The Slavna cascade and the pumped-storage plant as river data (``gridsim.water``, docs/water.md)."""
    spec = json.loads(DATA_FILE.read_text(encoding="utf-8"))["river"]
    river = pd.DataFrame(spec["plants"])
    river["in_service"] = True
    return river


def _create_branches(net: pp.pandapowerNet, ln: pd.DataFrame, tr: pd.DataFrame) -> None:
    r, x, c, imax = np.array([LINE_TYPES[kv] for kv in ln["kv"]]).T
    ppc.create_lines_from_parameters(net, ln["from_bus"].to_numpy(), ln["to_bus"].to_numpy(),
                                     ln["length_km"].to_numpy(), r, x, c, imax, name=ln["name"].to_numpy())
    hv, lv, vkr, vk, pfe, i0 = np.array([TRAFO_TYPES[kv] for kv in tr["kv"]]).T
    sn = tr["sn_mva"].to_numpy()
    oltc = tr["kv"].to_numpy() == 330.0
    ppc.create_transformers_from_parameters(
        net, tr["hv_bus"].to_numpy(), tr["lv_bus"].to_numpy(), sn, hv, lv, vkr, vk, pfe * sn, i0,
        name=tr["name"].to_numpy(), tap_side=np.where(oltc, "lv", None), tap_neutral=np.where(oltc, 0, np.nan),
        tap_min=np.where(oltc, -6, np.nan), tap_max=np.where(oltc, 6, np.nan),
        tap_step_percent=np.where(oltc, 2.0, np.nan), tap_pos=np.where(oltc, TAP_POS_110, np.nan),
        tap_changer_type=np.where(oltc, "Ratio", None))
    for df, table in ((ln, net.line), (tr, net.trafo)):
        table["region"] = df["region"].to_numpy()
        table["rate_a_mva"] = df["rate_mva"].to_numpy()
        table["rate_b_mva"] = np.round(1.1 * df["rate_mva"].to_numpy(), 1)
        table["rate_c_mva"] = np.round(1.2 * df["rate_mva"].to_numpy(), 1)
    net.trafo["substation"] = tr["substation"].to_numpy()


@cache
def _empty_net() -> pp.pandapowerNet:
    return ppc.create_empty_network()   # ~0.1 s; a deep copy of this template costs a tenth of that

