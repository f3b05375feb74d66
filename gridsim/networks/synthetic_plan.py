"""The plan of the built-in grid ``dnipro-like`` (see ``gridsim.networks.synthetic``): plain tables of buses,
branches, units, loads and shunts, computed once per process from ``gridsim/data/dnipro_like.json`` and a
fixed-seed numpy Generator, and cached. Here: substations and towns (step 1), demand, generation and the
110 kV capacitor banks; the branches are planned in ``synthetic_branches``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.networks.synthetic_branches import bus_index, plan_branches, reactors

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "dnipro_like.json"

GEN_VM_PU = {750.0: 1.035, 330.0: 1.04, 110.0: 1.05}
#: reactive capability as a fraction of max_p_mw: (min_q, max_q)
Q_RANGE = {"nuclear": (-0.3, 0.6), "coal": (-0.3, 0.6), "gas": (-0.3, 0.6), "hydro": (-0.4, 0.6),
           "pumped_storage": (-0.4, 0.6), "solar": (-0.33, 0.33), "wind": (-0.33, 0.33), "import": (-0.3, 0.3)}
#: per load bus: (priority, label, share of its demand, share of its customers)
LOAD_CLASSES = ((1, "critical", 0.15, 0.01), (2, "normal", 0.60, 0.985), (3, "interruptible", 0.25, 0.005))
LOAD_POWER_FACTOR = 0.97
SUBSTATIONS_PER_SHARE = 45   # load substations of a region: this x its demand share (at least 2)
RING_MW = 120.0           # most demand a 110 kV ring (fed from both ends at its hub) is planned to carry
CAPACITOR_SHARE = 0.5     # share of a load area's reactive demand met by capacitor banks at its hub


# -- the plan: plain tables, computed once ------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    regions: pd.DataFrame
    bus: pd.DataFrame
    line: pd.DataFrame
    trafo: pd.DataFrame
    gen: pd.DataFrame
    load: pd.DataFrame
    shunt: pd.DataFrame


@cache
def dnipro_like_plan() -> Plan:
    """The plan, computed on the first call; callers copy what they keep and never change its tables."""
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
    line, trafo = plan_branches(spec, subs, feeders, bus, loads, gens)
    shunt = pd.concat([reactors(line, bus), _capacitors(subs, bus)], ignore_index=True)
    regions = regions[["x_km", "y_km", "demand_share", "customers"]].astype(
        {"x_km": float, "y_km": float, "demand_share": float, "customers": int})
    regions.index.name = "region"
    return Plan(regions, bus, line, trafo, gens, loads, shunt)


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


# -- demand and generation ----------------------------------------------------------------------------------
def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer ``total`` in proportion to ``weights`` so that the parts add up exactly."""
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(out - raw)[: total - out.sum()]] += 1
    return out


def _loads(regions: pd.DataFrame, subs: pd.DataFrame, feeders: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Three loads (critical, normal, interruptible) per 110 kV bus; regional customers spread by demand."""
    at = bus_index(bus)
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
    at = bus_index(bus)
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


def _capacitors(subs: pd.DataFrame, bus: pd.DataFrame) -> pd.DataFrame:
    """Capacitor banks on each 110 kV hub busbar supplying half of its area's reactive demand; operators switch
    them with demand, so they scale with ``load_level``."""
    at = bus_index(bus)
    hub = subs[subs["role"] == "load"]
    q = -CAPACITOR_SHARE * np.tan(np.arccos(LOAD_POWER_FACTOR)) * hub["load_mw"].to_numpy()
    return pd.DataFrame({"name": hub["name"].to_numpy() + " 110 kV capacitor bank",
                         "bus": [at[(s, 110.0)] for s in hub["name"]], "q_mvar": np.round(q, 1), "switched": True})
