"""Branches of the ``dnipro-like`` plan (steps 2 and 3 in ``gridsim.networks.synthetic``): corridors (750 kV
backbone, 330 kV mesh, 750/330 and 330/110 kV units, 110 kV rings), DC N-1 sizing of the 330/750 kV grid,
circuit names, and the 750 kV shunt reactors that absorb the lines' charging. Plain tables, no pandapower.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree, shortest_path
from scipy.spatial import Delaunay

from gridsim.bridges import bridge_search

#: per circuit: r, x (ohm/km), c (nF/km), thermal limit (kA). 750 kV: 5 x AC-300 bundle (~3.8 GVA);
#: 330 kV: 2 x AC-400 (~1.0 GVA); 110 kV: AC-400 (~160 MVA)
LINE_TYPES = {750.0: (0.0146, 0.282, 13.7, 2.9), 330.0: (0.037, 0.326, 11.2, 1.8),
              110.0: (0.075, 0.39, 9.5, 0.825)}
#: per unit by hv voltage: hv kV, lv kV, vkr %, vk %, pfe kW per MVA, i0 %
TRAFO_TYPES = {750.0: (750.0, 330.0, 0.2, 11.5, 0.5, 0.1), 330.0: (330.0, 115.0, 0.3, 10.0, 0.5, 0.4)}
AT_750_MVA = 1000.0                              # a 3 x 333 MVA single-phase autotransformer bank
TRAFO_SIZES_MVA = (125.0, 200.0, 250.0, 400.0)   # standard 330/110 kV autotransformers
ROUTE_FACTOR = 1.12       # line length / straight distance
LOSS_FACTOR = 1.02        # dispatch covers demand plus ~2 % losses; the slack absorbs the difference
N1_MARGIN = 0.80          # DC N-1 flows of the 330/750 kV grid planned below this fraction of the rating
MESH_DEGREE = 2.5         # target mean degree of the 330 kV mesh


def plan_branches(spec: dict, subs: pd.DataFrame, feeders: pd.DataFrame, bus: pd.DataFrame, loads: pd.DataFrame,
                  gens: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lines and transformers: every corridor, sized for N-1 with the dispatch of ``gens`` for ``loads``, named."""
    branches = pd.concat([_lines_750(spec, bus), _mesh_330(bus), _trafos(subs, bus), _rings_110(feeders, bus)],
                         ignore_index=True)
    return _name_branches(_size_for_n1(branches, bus, loads, gens), bus)


def bus_index(bus: pd.DataFrame) -> dict[tuple[str, float], int]:
    """Position in ``bus`` of each (substation, kV) busbar."""
    return {(s, kv): i for i, (s, kv) in enumerate(zip(bus["substation"], bus["vn_kv"]))}


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
    at = bus_index(bus)
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
    """The first bridge (an edge whose loss splits the graph) Tarjan's search completes, or None."""
    if not edges:
        return None
    a, b = np.array(sorted(edges)).T
    found = bridge_search(m, a, b).found
    return (int(a[found[0]]), int(b[found[0]])) if found else None


def _trafos(subs: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Two 750/330 kV banks per 750 kV substation; 330/110 kV units sized so one can be lost at peak
    (above 400 MVA: as many 400 MVA units as needed plus one)."""
    at = bus_index(bus)
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
    at = bus_index(bus)
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


# -- voltage support ----------------------------------------------------------------------------------------
def reactors(line: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Shunt reactors on 750 kV busbars absorbing 90 % of the charging of the lines that end there."""
    kv = line["kv"].to_numpy()
    c = np.array([LINE_TYPES[v][2] for v in kv])
    half = 0.5 * kv ** 2 * 2 * np.pi * 50 * c * 1e-9 * line["length_km"].to_numpy()
    q = pd.Series(np.concatenate([half, half]), index=np.concatenate([line["from_bus"], line["to_bus"]]))
    q = 0.9 * q[np.concatenate([kv, kv]) == 750.0].groupby(level=0).sum()
    return pd.DataFrame({"name": bus.loc[q.index, "substation"].to_numpy() + " 750 kV reactor",
                         "bus": q.index.to_numpy(), "q_mvar": np.round(q.to_numpy(), 1), "switched": False})
