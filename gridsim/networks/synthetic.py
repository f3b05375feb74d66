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

The plan is computed once per process (~0.1 s) and cached; every call turns it into a fresh pandapowerNet with
pandapower's vectorised create functions (~0.1 s). Coordinates are km, x east, y north, in 1300 x 800 km.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree, shortest_path
from scipy.spatial import Delaunay

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "dnipro_like.json"

#: per circuit: r, x (ohm/km), c (nF/km), thermal limit (kA). 750 kV: 5 x AC-300 bundle (~3.8 GVA);
#: 330 kV: 2 x AC-400 (~1.0 GVA); 110 kV: AC-400 (~160 MVA)
LINE_TYPES = {750.0: (0.0146, 0.282, 13.7, 2.9), 330.0: (0.037, 0.326, 11.2, 1.8),
              110.0: (0.075, 0.39, 9.5, 0.825)}
#: per unit by hv voltage: hv kV, lv kV, vkr %, vk %, pfe kW per MVA, i0 %
TRAFO_TYPES = {750.0: (750.0, 330.0, 0.2, 11.5, 0.5, 0.1), 330.0: (330.0, 115.0, 0.3, 10.0, 0.5, 0.4)}
AT_750_MVA = 1000.0                              # a 3 x 333 MVA single-phase autotransformer bank
TRAFO_SIZES_MVA = (125.0, 200.0, 250.0, 400.0)   # standard 330/110 kV autotransformers
TAP_POS_110 = -1          # 330/115 kV units with a +-6 x 2 % tap changer run one step down (~113 kV)
ROUTE_FACTOR = 1.12       # line length / straight distance
GEN_VM_PU = {750.0: 1.035, 330.0: 1.04, 110.0: 1.05}
#: reactive capability as a fraction of max_p_mw: (min_q, max_q)
Q_RANGE = {"nuclear": (-0.3, 0.6), "coal": (-0.3, 0.6), "gas": (-0.3, 0.6), "hydro": (-0.4, 0.6),
           "pumped_storage": (-0.4, 0.6), "solar": (-0.33, 0.33), "wind": (-0.33, 0.33), "import": (-0.3, 0.3)}
#: per load bus: (priority, label, share of its demand, share of its customers)
LOAD_CLASSES = ((1, "critical", 0.15, 0.01), (2, "normal", 0.60, 0.985), (3, "interruptible", 0.25, 0.005))
LOAD_POWER_FACTOR = 0.97
LOSS_FACTOR = 1.02        # dispatch covers demand plus ~2 % losses; the slack absorbs the difference
N1_MARGIN = 0.80          # DC N-1 flows of the 330/750 kV grid planned below this fraction of the rating
MESH_DEGREE = 2.5         # target mean degree of the 330 kV mesh
SUBSTATIONS_PER_SHARE = 45   # load substations of a region: this x its demand share (at least 2)
RING_MW = 120.0           # most demand a 110 kV ring (fed from both ends at its hub) is planned to carry
CAPACITOR_SHARE = 0.5     # share of a load area's reactive demand met by capacitor banks at its hub


def build_dnipro_like(load_level: float = 1.0) -> pp.pandapowerNet:
    """Build the synthetic grid ``dnipro-like`` with loads (p and q) scaled by ``load_level``.

    Every generator is dispatched at ``p_mw = max_p_mw * u`` with one utilisation
    ``u = min(1, 1.02 * demand / capacity)``; the largest unit is the slack, so ``pp.runpp`` works as is.
    """
    plan = _plan()
    net = copy.deepcopy(_empty_net())
    net.name = "dnipro-like"
    b = plan.bus
    pp.create_buses(net, len(b), b["vn_kv"].to_numpy(), name=b["name"].to_numpy(), zone=b["region"].to_numpy())
    for col in ("substation", "region", "x_km", "y_km"):
        net.bus[col] = b[col].to_numpy()
    _create_branches(net, plan.line, plan.trafo)
    ld = plan.load
    pp.create_loads(net, ld["bus"].to_numpy(), ld["p_mw"].to_numpy() * load_level,
                    ld["q_mvar"].to_numpy() * load_level, name=ld["name"].to_numpy())
    for col in ("region", "customers", "priority"):
        net.load[col] = ld[col].to_numpy()
    g = plan.gen
    u = min(1.0, LOSS_FACTOR * net.load["p_mw"].sum() / g["max_p_mw"].sum())
    pp.create_gens(net, g["bus"].to_numpy(), g["max_p_mw"].to_numpy() * u, vm_pu=g["vm_pu"].to_numpy(),
                   sn_mva=g["max_p_mw"].to_numpy() / 0.85, name=g["name"].to_numpy(),
                   max_q_mvar=g["max_q_mvar"].to_numpy(), min_q_mvar=g["min_q_mvar"].to_numpy(),
                   min_p_mw=0.0, max_p_mw=g["max_p_mw"].to_numpy(), slack=g["slack"].to_numpy(),
                   controllable=True)
    for col in ("plant", "fuel", "kind", "region"):
        net.gen[col] = g[col].to_numpy()
    sh = plan.shunt
    q = sh["q_mvar"].to_numpy() * np.where(sh["switched"].to_numpy(), load_level, 1.0)
    pp.create_shunts(net, sh["bus"].to_numpy(), q, name=sh["name"].to_numpy())
    net["regions"] = plan.regions.copy()
    return net


def _create_branches(net: pp.pandapowerNet, ln: pd.DataFrame, tr: pd.DataFrame) -> None:
    r, x, c, imax = np.array([LINE_TYPES[kv] for kv in ln["kv"]]).T
    pp.create_lines_from_parameters(net, ln["from_bus"].to_numpy(), ln["to_bus"].to_numpy(),
                                    ln["length_km"].to_numpy(), r, x, c, imax, name=ln["name"].to_numpy())
    hv, lv, vkr, vk, pfe, i0 = np.array([TRAFO_TYPES[kv] for kv in tr["kv"]]).T
    sn = tr["sn_mva"].to_numpy()
    oltc = tr["kv"].to_numpy() == 330.0
    pp.create_transformers_from_parameters(
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


# -- the plan: plain tables, computed once ------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    regions: pd.DataFrame
    bus: pd.DataFrame
    line: pd.DataFrame
    trafo: pd.DataFrame
    gen: pd.DataFrame
    load: pd.DataFrame
    shunt: pd.DataFrame


@cache
def _empty_net() -> pp.pandapowerNet:
    return pp.create_empty_network()   # ~0.1 s; a deep copy of this template costs a tenth of that


@cache
def _plan() -> _Plan:
    spec = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    rng = np.random.default_rng(spec["seed"])
    regions = pd.DataFrame(spec["regions"]).set_index("name")
    taken = set(regions.index) | set(regions["capital"]) | {p["name"] for p in spec["plants"]}
    names = _town_names(spec, rng, taken | {ic["name"] for ic in spec["interconnectors"]})
    subs = _place_substations(spec, regions, rng, names)
    feeders = _place_feeders(subs, rng, names)
    bus = _buses(subs, feeders)
    loads = _loads(regions, subs, feeders, bus)
    gens = _gens(spec, subs, bus)
    branches = pd.concat([_lines_750(spec, bus), _mesh_330(bus), _trafos(subs, bus), _rings_110(feeders, bus)],
                         ignore_index=True)
    line, trafo = _name_branches(_size_for_n1(branches, bus, loads, gens), bus)
    shunt = pd.concat([_reactors(line, bus), _capacitors(subs, bus)], ignore_index=True)
    regions = regions[["x_km", "y_km", "demand_share", "customers"]].astype(
        {"x_km": float, "y_km": float, "demand_share": float, "customers": int})
    regions.index.name = "region"
    return _Plan(regions, bus, line, trafo, gens, loads, shunt)


# -- geography ----------------------------------------------------------------------------------------------
def _town_names(spec: dict, rng: np.random.Generator, taken: set[str]):
    """Yield unique fictional town names (prefix + suffix) in a seed-fixed order, skipping names of real towns
    that the generic roots happen to produce."""
    parts = spec["town_name_parts"]
    combos = [p + s for p in parts["prefixes"] for s in parts["suffixes"]]
    taken |= set(parts["skip"])
    for i in rng.permutation(len(combos)):
        if combos[i] not in taken:
            taken.add(combos[i])
            yield combos[i]


def _nearest_region(regions: pd.DataFrame, x: float, y: float) -> str:
    d = np.hypot(regions["x_km"].to_numpy() - x, regions["y_km"].to_numpy() - y)
    return str(regions.index[int(np.argmin(d))])


def _place_substations(spec: dict, regions: pd.DataFrame, rng: np.random.Generator, names) -> pd.DataFrame:
    """Plants, border points and regional capitals at fixed sites; further load substations drawn around each
    regional capital (inside the region, 45 km apart). Demand of a region is shared among its load substations.

    Columns: name, x_km, y_km, role (plant/border/load), kv (highest voltage), region, load_mw.
    """
    hubs = set(spec["hubs_750kv"])
    rows = [(p["name"], p["x_km"], p["y_km"], "plant", float(p["kv"]), 0.0)
            for p in spec["plants"] if p["kv"] >= 330]
    rows += [(ic["name"], ic["x_km"], ic["y_km"], "border", float(ic["kv"]), 0.0)
             for ic in spec["interconnectors"]]
    rows += [(r["capital"], r["x_km"], r["y_km"], "load", 750.0 if r["capital"] in hubs else 330.0, 2.0)
             for r in spec["regions"]]
    pts = np.array([(r[1], r[2]) for r in rows], dtype=float)
    for r in spec["regions"]:
        for _ in range(max(2, round(SUBSTATIONS_PER_SHARE * r["demand_share"])) - 1):
            for _try in range(5000):
                x, y = rng.normal((r["x_km"], r["y_km"]), 80.0)
                if (30 <= x <= 1270 and 30 <= y <= 770 and _nearest_region(regions, x, y) == r["name"]
                        and np.hypot(pts[:, 0] - x, pts[:, 1] - y).min() >= 45.0):
                    break
            pts = np.vstack([pts, (x, y)])
            rows.append((next(names), round(x, 1), round(y, 1), "load", 330.0, rng.uniform(0.6, 1.4)))
    subs = pd.DataFrame(rows, columns=["name", "x_km", "y_km", "role", "kv", "weight"])
    subs["region"] = [_nearest_region(regions, x, y) for x, y in pts]
    demand = regions["demand_share"] * spec["peak_demand_mw"]
    share = subs["weight"] / subs.groupby("region")["weight"].transform("sum")
    subs["load_mw"] = np.where(subs["role"] == "load", share * subs["region"].map(demand), 0.0)
    return subs.drop(columns="weight")


def _place_feeders(subs: pd.DataFrame, rng: np.random.Generator, names) -> pd.DataFrame:
    """110 kV towns around each load substation. The substation keeps what its 110 kV ring cannot carry (at
    least 45 % of its demand); the rest goes to 2-7 towns: most on one ring hub - t1 - ... - tk - hub 15-30 km
    out (each fed from two sides), every third one on a radial spur further out (``feed`` = its host town)."""
    rows = []
    for s in subs[subs["role"] == "load"].itertuples():
        outer = min(0.55 * s.load_mw, RING_MW)
        k = int(np.clip(round(outer / 25.0), 2, 7))
        n_ring = k - k // 3
        w = rng.uniform(0.7, 1.3, k) * np.where(np.arange(k) < n_ring, 1.0, 0.6)
        angle = rng.uniform(0, 2 * np.pi) + np.arange(n_ring) * 2 * np.pi / n_ring + rng.uniform(-0.3, 0.3, n_ring)
        radius = rng.uniform(15.0, 30.0, n_ring)
        hosts = rng.permutation(n_ring)[: k - n_ring]
        angle = np.concatenate([angle, angle[hosts] + rng.uniform(-0.4, 0.4, len(hosts))])
        radius = np.concatenate([radius, radius[hosts] + rng.uniform(15.0, 25.0, len(hosts))])
        x = np.round(np.clip(s.x_km + radius * np.cos(angle), 5, 1295), 1)
        y = np.round(np.clip(s.y_km + radius * np.sin(angle), 5, 795), 1)
        town = [next(names) for _ in range(k)]
        feed = ["ring"] * n_ring + [town[h] for h in hosts]
        rows += zip(town, [s.name] * k, [s.region] * k, x, y, feed, outer * w / w.sum())
    return pd.DataFrame(rows, columns=["name", "parent", "region", "x_km", "y_km", "feed", "load_mw"])


def _buses(subs: pd.DataFrame, feeders: pd.DataFrame) -> pd.DataFrame:
    """Busbars: 750 + 330 kV at 750 kV substations, 330 kV elsewhere, 110 kV at load substations and towns."""
    rows = []
    for s in subs.itertuples():
        levels = [750.0, 330.0] if s.kv == 750.0 else [330.0]
        levels += [110.0] if s.role == "load" else []
        rows += [(f"{s.name} {kv:.0f} kV", kv, s.name, s.region, s.x_km, s.y_km) for kv in levels]
    rows += [(f"{f.name} 110 kV", 110.0, f.name, f.region, f.x_km, f.y_km) for f in feeders.itertuples()]
    return pd.DataFrame(rows, columns=["name", "vn_kv", "substation", "region", "x_km", "y_km"])


def _bus_index(bus: pd.DataFrame) -> dict[tuple[str, float], int]:
    return {(s, kv): i for i, (s, kv) in enumerate(zip(bus["substation"], bus["vn_kv"]))}


# -- demand and generation ----------------------------------------------------------------------------------
def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer ``total`` in proportion to ``weights`` so that the parts add up exactly."""
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(out - raw)[: total - out.sum()]] += 1
    return out


def _loads(regions: pd.DataFrame, subs: pd.DataFrame, feeders: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Three loads (critical, normal, interruptible) per 110 kV bus; regional customers spread by demand."""
    at = _bus_index(bus)
    hub = subs[subs["role"] == "load"]
    outer = feeders.groupby("parent")["load_mw"].sum().reindex(hub["name"], fill_value=0.0).to_numpy()
    b = np.array([at[(s, 110.0)] for s in hub["name"]] + [at[(f, 110.0)] for f in feeders["name"]])
    p = np.concatenate([hub["load_mw"].to_numpy() - outer, feeders["load_mw"].to_numpy()])
    region = bus["region"].to_numpy()[b]
    customers = np.zeros(len(b), int)
    for r in np.unique(region):
        customers[region == r] = _largest_remainder(int(regions.at[r, "customers"]), p[region == r])
    prio, label, p_share, c_share = (np.array(v) for v in zip(*LOAD_CLASSES))
    split = np.vstack([_largest_remainder(int(c), c_share) for c in customers])    # one row per bus
    p_mw = np.round(np.outer(p, p_share), 3).ravel()
    k = len(LOAD_CLASSES)
    name = np.char.add(np.repeat(bus["substation"].to_numpy()[b].astype(str), k),
                       np.tile(np.char.add(" ", label.astype(str)), len(b)))
    return pd.DataFrame({"name": name, "bus": np.repeat(b, k), "region": np.repeat(region, k),
                         "customers": split.ravel(), "priority": np.tile(prio, len(b)), "p_mw": p_mw,
                         "q_mvar": np.round(p_mw * np.tan(np.arccos(LOAD_POWER_FACTOR)), 3)})


def _gens(spec: dict, subs: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """One row per unit, named "<plant> G<i>"; one per interconnector. 750 kV plants put the first half of their
    units on 750 kV, the rest on 330 kV; 110 kV plants (city CHPs) sit on their regional capital's 110 kV bus."""
    at = _bus_index(bus)
    region_of = dict(zip(subs["name"], subs["region"]))
    capital = {r["name"]: r["capital"] for r in spec["regions"]}
    regions = pd.DataFrame(spec["regions"]).set_index("name")
    rows = []
    for p in spec["plants"]:
        region = region_of.get(p["name"]) or _nearest_region(regions, p["x_km"], p["y_km"])
        n = len(p["units"])
        for i, mw in enumerate(p["units"]):
            if p["kv"] == 750:
                b = at[(p["name"], 750.0 if i < (n + 1) // 2 else 330.0)]
            elif p["kv"] == 330:
                b = at[(p["name"], 330.0)]
            else:
                b = at[(capital[region], 110.0)]
            rows.append((f"{p['name']} G{i + 1}", p["name"], p["fuel"], "unit", region, b, float(mw)))
    for ic in spec["interconnectors"]:
        rows.append((ic["name"], ic["name"], "import", "interconnector", region_of[ic["name"]],
                     at[(ic["name"], float(ic["kv"]))], float(ic["max_p_mw"])))
    gen = pd.DataFrame(rows, columns=["name", "plant", "fuel", "kind", "region", "bus", "max_p_mw"])
    qmin, qmax = np.array([Q_RANGE[f] for f in gen["fuel"]]).T
    gen["min_q_mvar"] = np.round(qmin * gen["max_p_mw"], 1)
    gen["max_q_mvar"] = np.round(qmax * gen["max_p_mw"], 1)
    gen["vm_pu"] = bus.loc[gen["bus"], "vn_kv"].map(GEN_VM_PU).to_numpy()
    gen["slack"] = False
    gen.loc[int(gen["max_p_mw"].to_numpy().argmax()), "slack"] = True
    return gen


# -- branches: corridors with n parallel circuits or units --------------------------------------------------
_BRANCH_COLUMNS = ["kind", "kv", "f", "t", "a", "b", "length_km", "sn_mva", "n", "contingency", "margin"]


def _corridors(bus: pd.DataFrame, pairs: list[tuple[int, int]], kv: float, contingency: bool = True,
               margin: float = N1_MARGIN) -> pd.DataFrame:
    """Line corridors between bus pairs, one circuit each; ``contingency``: part of the N-1 sized grid."""
    f, t = np.array(pairs, dtype=int).reshape(-1, 2).T
    x, y, sub = bus["x_km"].to_numpy(), bus["y_km"].to_numpy(), bus["substation"].to_numpy()
    length = np.round(np.maximum(5.0, ROUTE_FACTOR * np.hypot(x[f] - x[t], y[f] - y[t])), 1)
    return pd.DataFrame({"kind": "line", "kv": kv, "f": f, "t": t, "a": sub[f], "b": sub[t], "length_km": length,
                         "sn_mva": np.nan, "n": 1, "contingency": contingency, "margin": margin})


def _lines_750(spec: dict, bus: pd.DataFrame) -> pd.DataFrame:
    at = _bus_index(bus)
    return _corridors(bus, [(at[(a, 750.0)], at[(b, 750.0)]) for a, b in spec["lines_750kv"]], 750.0)


def _mesh_330(bus: pd.DataFrame) -> pd.DataFrame:
    """330 kV mesh over every 330 kV busbar: Delaunay MST, made bridge-free, chains of pass-through
    substations broken, then densified to MESH_DEGREE where the network's detours are longest."""
    nodes = np.flatnonzero(bus["vn_kv"].to_numpy() == 330.0)
    xy = bus.loc[nodes, ["x_km", "y_km"]].to_numpy()
    m = len(nodes)
    tri = Delaunay(xy).simplices
    cand = np.unique(np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1), axis=0)
    length = np.hypot(*(xy[cand[:, 0]] - xy[cand[:, 1]]).T)
    mst = minimum_spanning_tree(coo_matrix((length, (cand[:, 0], cand[:, 1])), shape=(m, m))).tocoo()
    chosen = {(min(i, j), max(i, j)) for i, j in zip(mst.row, mst.col)}
    short = np.argsort(length)
    short = short[length[short] <= 250.0]
    while (bridge := _first_bridge(m, chosen)) is not None:
        # join the two sides of the bridge with the shortest other candidate
        rest = np.array([e for e in chosen if e != bridge])
        _, side = connected_components(coo_matrix((np.ones(len(rest)), rest.T), shape=(m, m)), directed=False)
        chosen.add(next(tuple(cand[c]) for c in short
                        if side[cand[c, 0]] != side[cand[c, 1]] and tuple(cand[c]) != bridge))
    target = round(MESH_DEGREE * m / 2)
    while True:
        e = np.array(sorted(chosen))
        deg = np.bincount(e.ravel(), minlength=m)
        chain = np.zeros(m, bool)    # two neighbouring substations fed only through each other: weak
        chain[e[(deg[e[:, 0]] == 2) & (deg[e[:, 1]] == 2)].ravel()] = True
        free = np.array([tuple(cand[c]) not in chosen for c in short])
        pool = short[free & (chain[cand[short, 0]] | chain[cand[short, 1]])]
        if len(pool) == 0:
            if len(chosen) >= target:
                break
            pool = short[free]
        dist = shortest_path(coo_matrix((np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T), e.T), shape=(m, m)),
                             directed=False)
        detour = dist[cand[pool, 0], cand[pool, 1]] / length[pool]
        chosen.add(tuple(cand[pool[int(detour.argmax())]]))
    return _corridors(bus, [(nodes[i], nodes[j]) for i, j in sorted(chosen)], 330.0)


def _first_bridge(m: int, edges: set[tuple[int, int]]) -> tuple[int, int] | None:
    """A bridge of the graph (an edge whose loss splits it), by Tarjan's depth-first search, or None."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for k, (i, j) in enumerate(sorted(edges)):
        adj[i].append((j, k))
        adj[j].append((i, k))
    order, low = [-1] * m, [0] * m
    counter = 0
    for root in range(m):
        if order[root] >= 0:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            v, via, it = stack[-1]
            for w, k in it:
                if k == via:
                    continue
                if order[w] < 0:
                    order[w] = low[w] = counter
                    counter += 1
                    stack.append((w, k, iter(adj[w])))
                    break
                low[v] = min(low[v], order[w])
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[v])
                    if low[v] > order[parent]:
                        return (min(parent, v), max(parent, v))
    return None


def _trafos(subs: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Two 750/330 kV banks per 750 kV substation; 330/110 kV units sized so one can be lost at peak
    (above 400 MVA: as many 400 MVA units as needed plus one)."""
    at = _bus_index(bus)
    rows = [("trafo", 750.0, at[(s, 750.0)], at[(s, 330.0)], s, s, np.nan, AT_750_MVA, 2, True, N1_MARGIN)
            for s in subs.loc[subs["kv"] == 750.0, "name"]]
    largest = TRAFO_SIZES_MVA[-1]
    for s in subs[subs["role"] == "load"].itertuples():
        mva = s.load_mw / 0.95
        n = 2 if mva <= largest else int(np.ceil(mva / largest)) + 1
        sn = next((size for size in TRAFO_SIZES_MVA if size >= mva), largest)
        rows.append(("trafo", 330.0, at[(s.name, 330.0)], at[(s.name, 110.0)], s.name, s.name, np.nan, sn, n,
                     False, 0.75))
    return pd.DataFrame(rows, columns=_BRANCH_COLUMNS)


def _rings_110(feeders: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Each load substation feeds its ring towns as hub - town 1 - ... - town k - hub, spurs from their host."""
    at = _bus_index(bus)
    pairs = []
    for hub, grp in feeders.groupby("parent", sort=False):
        ring = [at[(hub, 110.0)]] + [at[(f, 110.0)] for f in grp.loc[grp["feed"] == "ring", "name"]]
        pairs += list(zip(ring, ring[1:] + ring[:1]))
        spurs = grp[grp["feed"] != "ring"]
        pairs += [(at[(h, 110.0)], at[(f, 110.0)]) for h, f in zip(spurs["feed"], spurs["name"])]
    return _corridors(bus, pairs, 110.0, contingency=False, margin=0.75)


# -- sizing ---------------------------------------------------------------------------------------------------
def _per_circuit(br: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Series reactance (p.u. on 100 MVA) and rating (MVA) of one circuit or unit of each corridor."""
    kv = br["kv"].to_numpy()
    line = (br["kind"] == "line").to_numpy()
    x_km = np.array([LINE_TYPES[v][1] if is_line else np.nan for v, is_line in zip(kv, line)])
    i_ka = np.array([LINE_TYPES[v][3] if is_line else np.nan for v, is_line in zip(kv, line)])
    vk = np.array([np.nan if is_line else TRAFO_TYPES[v][3] for v, is_line in zip(kv, line)])
    x_pu = np.where(line, x_km * br["length_km"].to_numpy() / (kv ** 2 / 100.0), vk / br["sn_mva"].to_numpy())
    rating = np.where(line, np.sqrt(3) * kv * i_ka, br["sn_mva"].to_numpy())
    return x_pu, rating


def _size_for_n1(br: pd.DataFrame, bus: pd.DataFrame, loads: pd.DataFrame, gens: pd.DataFrame) -> pd.DataFrame:
    """Add parallel circuits/banks to the 330/750 kV grid until its DC flows stay below ``margin`` x rating in
    the base case and after every single-circuit outage there (compensation/LODF method), one at a time to
    the worst corridor. Each 110 kV area hangs off one 330 kV busbar: its demand and generation count there."""
    br = br.reset_index(drop=True).copy()
    grid = br["contingency"].to_numpy()
    local = br[~grid]
    _, area = connected_components(coo_matrix((np.ones(len(local)), (local["f"], local["t"])),
                                              shape=(len(bus), len(bus))), directed=False)
    hv = np.flatnonzero(bus["vn_kv"].to_numpy() >= 330.0)
    nb = len(hv)
    pos = np.full(area.max() + 1, -1)
    pos[area[hv]] = np.arange(nb)           # each area holds exactly one 330/750 kV busbar
    u = LOSS_FACTOR * loads["p_mw"].sum() / gens["max_p_mw"].sum()
    inj = np.bincount(pos[area[gens["bus"].to_numpy()]], gens["max_p_mw"].to_numpy() * u / 100.0, nb) \
        - np.bincount(pos[area[loads["bus"].to_numpy()]], loads["p_mw"].to_numpy() / 100.0, nb)
    keep = np.arange(nb) != pos[area[int(gens.loc[gens["slack"], "bus"].iloc[0])]]
    sized = br[grid]
    x_pu, rating = _per_circuit(sized)
    limit = rating * sized["margin"].to_numpy()
    f, t = pos[area[sized["f"].to_numpy()]], pos[area[sized["t"].to_numpy()]]
    n = sized["n"].to_numpy().astype(int)
    m = len(sized)
    incidence = np.zeros((m, nb))
    incidence[np.arange(m), f] = 1.0
    incidence[np.arange(m), t] = -1.0
    diag = np.diag_indices(m)
    for _ in range(400):
        b = n / x_pu
        x = np.zeros((nb, nb))
        x[np.ix_(keep, keep)] = np.linalg.inv((incidence.T @ (b[:, None] * incidence))[np.ix_(keep, keep)])
        flow = b * (incidence @ (x @ inj)) * 100.0
        ptdf = b[:, None] * (incidence @ (x[:, f] - x[:, t]))   # column k: flows per unit sent from f_k to t_k
        own = ptdf[diag] / n                                     # what one circuit of corridor k takes itself
        if np.any(own > 1 - 1e-9):
            raise RuntimeError("dnipro-like plan has a bridge in its 330/750 kV grid")
        z = flow / n / (1.0 - own)                               # transfer that replaces the lost circuit
        post = flow[:, None] + ptdf * z                          # corridor flows after losing one circuit of k
        post[diag] -= z
        per = np.abs(post) / n[:, None]
        per[diag] = np.abs(post[diag]) / np.maximum(n - 1, 1)
        ratio = np.maximum(np.abs(flow) / n, per.max(axis=1)) / limit
        k = int(ratio.argmax())
        if ratio[k] <= 1.0:
            break
        n[k] += 1
    else:
        raise RuntimeError("dnipro-like plan: N-1 sizing did not finish")
    br.loc[grid, "n"] = n
    return br


def _name_branches(br: pd.DataFrame, bus: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expand corridors into named circuits ("A - B 330 kV", "... #2") and units ("X AT1", "X T2")."""
    _, rating = _per_circuit(br)
    br = br.assign(rate_mva=np.round(rating, 1))
    rep = br.loc[br.index.repeat(br["n"])].copy()
    rep["i"] = rep.groupby(level=0).cumcount() + 1
    rep["region"] = bus.loc[rep["f"], "region"].to_numpy()
    lines = rep[rep["kind"] == "line"]
    base = lines["a"] + " - " + lines["b"] + " " + lines["kv"].map("{:.0f} kV".format)
    line = pd.DataFrame({
        "name": np.where(lines["n"] > 1, base + " #" + lines["i"].astype(str), base),
        "from_bus": lines["f"], "to_bus": lines["t"], "kv": lines["kv"], "length_km": lines["length_km"],
        "region": lines["region"], "rate_mva": lines["rate_mva"]}).reset_index(drop=True)
    tr = rep[rep["kind"] == "trafo"]
    trafo = pd.DataFrame({
        "name": tr["a"] + np.where(tr["kv"] == 750.0, " AT", " T") + tr["i"].astype(str),
        "hv_bus": tr["f"], "lv_bus": tr["t"], "kv": tr["kv"], "sn_mva": tr["sn_mva"], "region": tr["region"],
        "substation": tr["a"], "rate_mva": tr["rate_mva"]}).reset_index(drop=True)
    if not (line["name"].is_unique and trafo["name"].is_unique):
        raise RuntimeError("dnipro-like plan: branch names are not unique")
    return line, trafo


def _reactors(line: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Shunt reactors on 750 kV busbars absorbing 90 % of the charging of the lines that end there."""
    kv = line["kv"].to_numpy()
    c = np.array([LINE_TYPES[v][2] for v in kv])
    half = 0.5 * kv ** 2 * 2 * np.pi * 50 * c * 1e-9 * line["length_km"].to_numpy()
    q = pd.Series(np.concatenate([half, half]), index=np.concatenate([line["from_bus"], line["to_bus"]]))
    q = 0.9 * q[np.concatenate([kv, kv]) == 750.0].groupby(level=0).sum()
    return pd.DataFrame({"name": bus.loc[q.index, "substation"].to_numpy() + " 750 kV reactor",
                         "bus": q.index.to_numpy(), "q_mvar": np.round(q.to_numpy(), 1), "switched": False})


def _capacitors(subs: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Capacitor banks on each 110 kV hub busbar supplying half of its area's reactive demand; operators switch
    them with demand, so they scale with ``load_level``."""
    at = _bus_index(bus)
    hub = subs[subs["role"] == "load"]
    q = -CAPACITOR_SHARE * np.tan(np.arccos(LOAD_POWER_FACTOR)) * hub["load_mw"].to_numpy()
    return pd.DataFrame({"name": hub["name"].to_numpy() + " 110 kV capacitor bank",
                         "bus": [at[(s, 110.0)] for s in hub["name"]], "q_mvar": np.round(q, 1), "switched": True})
