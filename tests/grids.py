"""Tiny hand-solvable grids that follow the data contract (docs/architecture.md), built fresh per call."""

from __future__ import annotations

import pandapower as pp
import pandas as pd


def _finish(net, regions: dict[str, tuple[float, float]]) -> pp.pandapowerNet:
    total = net.load["p_mw"].sum()
    reg = pd.DataFrame(
        [{"region": r, "x_km": x, "y_km": y,
          "demand_share": net.load.loc[net.load["region"] == r, "p_mw"].sum() / total,
          "customers": int(net.load.loc[net.load["region"] == r, "customers"].sum())}
         for r, (x, y) in regions.items()]).set_index("region")
    net["regions"] = reg
    for t in ("line", "trafo"):
        if len(net[t]):
            if t == "line":
                rate = net.line["max_i_ka"] * 3 ** 0.5 * net.bus.loc[net.line["from_bus"], "vn_kv"].to_numpy()
            else:
                rate = net.trafo["sn_mva"]
            net[t]["rate_a_mva"] = rate
            net[t]["rate_b_mva"] = rate * 1.1
            net[t]["rate_c_mva"] = rate * 1.2
    return net


def _bus(net, name, region, x, y, vn=110.0, sub=None):
    b = pp.create_bus(net, vn_kv=vn, name=name)
    net.bus.loc[b, ["substation", "region", "x_km", "y_km"]] = [sub or name, region, x, y]
    return b


def _line(net, a, b, name, km=30.0, max_i_ka=1.0):
    i = pp.create_line_from_parameters(net, a, b, length_km=km, r_ohm_per_km=0.05, x_ohm_per_km=0.4,
                                       c_nf_per_km=9.0, max_i_ka=max_i_ka, name=name)
    net.line.at[i, "region"] = net.bus.at[a, "region"]
    return i


def _gen(net, bus, name, plant, p, fuel="gas", kind="unit"):
    g = pp.create_gen(net, bus, p_mw=0.0, vm_pu=1.0, max_p_mw=p, min_p_mw=0.0, min_q_mvar=-p, max_q_mvar=p,
                      name=name)
    net.gen.loc[g, ["plant", "fuel", "kind", "region"]] = [plant, fuel, kind, net.bus.at[bus, "region"]]
    return g


def _load(net, bus, name, p, priority=2, customers=1000):
    i = pp.create_load(net, bus, p_mw=p, q_mvar=0.2 * p, name=name)
    net.load.loc[i, ["region", "priority", "customers"]] = [net.bus.at[bus, "region"], priority, customers]
    return i


def three_bus() -> pp.pandapowerNet:
    """Triangle A-B-C at 110 kV. G1 (100 MW) at A, G2 (50 MW) at B, load L (120 MW) at C.

    Hand results: lose G2 -> capacity 100 < 120: 20 MW deficit. Cut lines A-C and B-C -> C isolated:
    120 MW isolated. No outage -> nothing unserved.
    """
    net = pp.create_empty_network(name="three-bus")
    a = _bus(net, "A", "West", 0, 0)
    b = _bus(net, "B", "West", 100, 0)
    c = _bus(net, "C", "East", 50, 80)
    _line(net, a, b, "A-B")
    _line(net, b, c, "B-C")
    _line(net, a, c, "A-C")
    _gen(net, a, "G1", "Plant A", 100.0)
    _gen(net, b, "G2", "Plant B", 50.0, fuel="hydro")
    _load(net, c, "L", 120.0)
    return _finish(net, {"West": (50, 0), "East": (50, 80)})


def two_areas() -> pp.pandapowerNet:
    """Two areas joined by the tie line T1-T2, plus a radial village V fed from the East.

    West: W1 (gen GW 340 MW, load LW1 100 MW), W2 (load LW2 100 MW, priority 3). East: E1 (gen GE 80 MW),
    E2 (load LE 150 MW, priority 1), V (load LV 30 MW) radial from E2 by line E2-V.

    Hand results with the DC solver:
    - cut the tie: East has 80 MW for 180 MW -> 100 MW deficit; West serves 200 of 200.
    - cut the tie and E2-V: V isolated (30 MW); East 80 MW for 150 -> 70 MW deficit.
    - priority shedding, tie cut: East sheds LV (priority 2) fully (30) then 70 of LE (priority 1).
    """
    net = pp.create_empty_network(name="two-areas")
    w1 = _bus(net, "W1", "West", 0, 0)
    w2 = _bus(net, "W2", "West", 0, 100)
    e1 = _bus(net, "E1", "East", 200, 0)
    e2 = _bus(net, "E2", "East", 200, 100)
    v = _bus(net, "V", "East", 260, 140)
    _line(net, w1, w2, "W1-W2")
    _line(net, w2, e2, "Tie", km=40)
    _line(net, w1, e1, "Tie-South", km=40)
    _line(net, e1, e2, "E1-E2")
    _line(net, e2, v, "E2-V", km=20)
    _gen(net, w1, "GW", "West Plant", 340.0, fuel="coal")
    _gen(net, e1, "GE", "East Plant", 80.0, fuel="gas")
    _load(net, w1, "LW1", 100.0)
    _load(net, w2, "LW2", 100.0, priority=3)
    _load(net, e2, "LE", 150.0, priority=1)
    _load(net, v, "LV", 30.0)
    return _finish(net, {"West": (0, 50), "East": (220, 80)})


def triangle_limited(limit_ac_mw: float = 60.0, limit_bc_mw: float = 1000.0) -> pp.pandapowerNet:
    """Triangle A-B-C at 110 kV with equal line impedances. Gen G (200 MW) at A, load L (150 MW) at C.

    DC flows split 2/3 on the direct line A-C and 1/3 on A-B-C. With A-C rated ``limit_ac_mw`` (60 MW),
    the most C can receive is 1.5 x 60 = 90 MW: the optimal response sheds 60 MW (cause network).
    Cascade (trip at 120 %): A-C carries 100 MW (167 %) and trips; then all 150 MW flow over A-B-C; with
    B-C rated 120 MW (125 %) it trips too and C is isolated: 150 MW lost to the cascade.
    """
    net = pp.create_empty_network(name="triangle")
    a = _bus(net, "A", "North", 0, 0)
    b = _bus(net, "B", "North", 100, 0)
    c = _bus(net, "C", "South", 50, 80)
    kv3 = 3 ** 0.5 * 110.0
    _line(net, a, b, "A-B", max_i_ka=1000.0 / kv3)
    _line(net, b, c, "B-C", max_i_ka=limit_bc_mw / kv3)
    _line(net, a, c, "A-C", max_i_ka=limit_ac_mw / kv3)
    _gen(net, a, "G", "Plant A", 200.0)
    _load(net, c, "L", 150.0)
    return _finish(net, {"North": (50, 0), "South": (50, 80)})


def collapsing() -> pp.pandapowerNet:
    """Two buses 300 km apart at 110 kV; 400 MW of load at the far end: beyond the line's voltage-stability
    limit, so the AC power flow cannot converge, while the (lossless, voltage-free) DC flow can.
    The line is rated high enough that no overload relief is needed."""
    net = pp.create_empty_network(name="collapsing")
    a = _bus(net, "A", "Here", 0, 0)
    b = _bus(net, "B", "There", 300, 0)
    _line(net, a, b, "A-B", km=300.0, max_i_ka=5.0)
    _gen(net, a, "G", "Plant A", 1000.0)
    _load(net, b, "L", 400.0)
    return _finish(net, {"Here": (0, 0), "There": (300, 0)})


def charging() -> pp.pandapowerNet:
    """A 2 MW wind unit at A feeding 1 MW at B over a 500 km, 330 kV line: the line's own charging current
    costs about 13 MW of losses at any load (AC, B rises to 1.16 p.u.), more than the unit can give. No AC
    operating point exists within its capacity; the lossless DC flow serves the 1 MW."""
    net = pp.create_empty_network(name="charging")
    a = _bus(net, "A", "Here", 0, 0, vn=330.0)
    b = _bus(net, "B", "There", 500, 0, vn=330.0)
    i = pp.create_line_from_parameters(net, a, b, length_km=500.0, r_ohm_per_km=0.2, x_ohm_per_km=0.3,
                                       c_nf_per_km=12.0, max_i_ka=2.0, name="A-B")
    net.line.at[i, "region"] = "Here"
    _gen(net, a, "G", "Wind A", 2.0, fuel="wind")
    _load(net, b, "L", 1.0)
    return _finish(net, {"Here": (0, 0), "There": (500, 0)})
