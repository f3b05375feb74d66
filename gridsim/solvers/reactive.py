"""Reactive measures against over-voltage and charging-current overloads (the optimal response's AC stage).

What an operator does when a lightly loaded, damaged grid runs high, in this order:

0. under-voltage: switch off shunt reactors at buses below the band (before any load is shed);
1. switch off capacitor banks (``shunt.q_mvar < 0``) at buses above the band;
2. lower the voltage set-points of the island's units (towards ``VM_SETPOINT_FLOOR``) by the excess;
3. open lightly loaded lines whose charging overloads them or feeds the over-voltage, provided opening one
   does not split the island, or splits off only a dead end with no unit and no load still served (an
   open-ended line whose far end lost everything is disconnected, and that end is de-energised).

Each measure changes the damaged network (the response owns it) and is listed in the notes; opened lines are
returned so the report can show them as switched, not damaged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridsim.solvers.dcmodel import _nominal_rating
from gridsim.solvers.voltage import VM_MAX_PU, VM_MIN_PU

#: units' voltage set-points are never lowered below this (p.u.)
VM_SETPOINT_FLOOR = 0.95
#: a line whose |P| is below this fraction of its rating counts as lightly loaded
LIGHT_SHARE = 0.15


def _helps(net, islands, isl, bal, shunts) -> bool:
    """Switch ``shunts`` off and keep that only if the island then converges in AC with a higher lowest
    voltage than before (tried on the island alone)."""
    from gridsim.solvers.voltage import IslandAC

    served = bal.served_mw.loc[isl.loads].to_numpy(dtype=float)
    before = IslandAC(net, islands, bal, isl, 0.0).run(served)
    saved = net.shunt["in_service"].copy()
    net.shunt.loc[shunts, "in_service"] = False
    after = IslandAC(net, islands, bal, isl, 0.0).run(served)
    if after.converged and (not before.converged or after.min_vm_pu > before.min_vm_pu):
        return True
    net.shunt["in_service"] = saved
    return False


def reactive_measures(net, islands, isl, flow, problems, notes: list[str], bal=None):
    """Apply the measures for one island; return the (table, index) of the lines opened, the buses of any
    empty dead end thereby de-energised, and whether anything was done."""
    done: list[str] = []
    opened: set = set()
    vm = flow.vm_pu.loc[isl.buses]
    high = vm.index[vm > VM_MAX_PU]
    if problems.voltage_high:
        sh = net.shunt
        caps = sh.index[sh["in_service"].astype(bool) & (sh["q_mvar"].astype(float) < 0) & sh["bus"].isin(high)]
        if len(caps):
            sh.loc[caps, "in_service"] = False
            done.append(f"switched off {len(caps)} capacitor bank(s)")
        gens = net.gen.index[net.gen.index.isin(isl.gens) | net.gen["bus"].isin(isl.buses)]
        gens = gens[net.gen.loc[gens, "in_service"].astype(bool)]
        excess = float(vm.max()) - VM_MAX_PU + 0.01
        old = net.gen.loc[gens, "vm_pu"].astype(float)
        new = np.maximum(VM_SETPOINT_FLOOR, old - excess)
        if (old - new > 1e-4).any():
            net.gen.loc[gens, "vm_pu"] = np.minimum(old, new)
            done.append(f"lowered {int((old - new > 1e-4).sum())} units' voltage set-points by up to "
                        f"{float((old - new).max()):.3f} p.u.")
    low = vm.index[vm < VM_MIN_PU]
    if problems.voltage_low:
        sh = net.shunt
        reactors = sh.index[sh["in_service"].astype(bool) & (sh["q_mvar"].astype(float) > 0) & sh["bus"].isin(low)]
        if len(reactors) and bal is not None and _helps(net, islands, isl, bal, reactors):
            done.append(f"switched off {len(reactors)} shunt reactor(s) at buses below {VM_MIN_PU} p.u.")
    candidates = [idx for table, idx, _ in problems.charging if table == "line"]
    if problems.voltage_high:
        candidates += _light_lines_at(net, flow, high)
    dead = np.zeros(0, dtype=int)
    for idx in dict.fromkeys(candidates):
        cut = _cut_off(net, isl, idx, bal)
        if cut is None:
            continue
        dead = cut
        if len(dead):
            net.bus.loc[dead, "in_service"] = False
        net.line.at[idx, "in_service"] = False
        opened.add(("line", int(idx)))
        done.append(f"opened lightly loaded line {net.line.at[idx, 'name']} (its charging current)")
        break          # one line per round: the next solve shows whether another is needed
    if len(dead):
        done.append(f"de-energised the empty dead end beyond it ({len(dead)} bus(es))")
    if done:
        notes.append(f"island {isl.id}: reactive measures: " + "; ".join(done))
    return opened, dead, bool(done)


def _light_lines_at(net, flow, buses) -> list[int]:
    line = net.line
    on = line["in_service"].astype(bool)
    at = on & (line["from_bus"].isin(buses) | line["to_bus"].isin(buses))
    rating = pd.Series(_nominal_rating(net, "line"), index=line.index)
    share = flow.line_p_from_mw.reindex(line.index).abs() / rating.where(rating > 0, np.inf)
    light = at & (share.fillna(0.0) < LIGHT_SHARE)
    # the line with the most charging (longest, highest voltage) first
    charging = (line["c_nf_per_km"].astype(float) * line["length_km"].astype(float)
                * net.bus.loc[line["from_bus"], "vn_kv"].to_numpy() ** 2)
    return list(charging[light].sort_values(ascending=False).index.astype(int))


def _cut_off(net, isl, line_idx: int, bal=None):
    """Buses cut off from the island's main part by opening ``line_idx`` (empty array: none), or None when
    what is cut off has a unit or load still served (then the line may not be opened)."""
    from gridsim.topology import branch_edges

    f, t = branch_edges(net)
    buses = np.asarray(isl.buses)
    pos = pd.Series(np.arange(len(buses)), index=buses)
    inside = pos.reindex(f).notna().to_numpy() & pos.reindex(t).notna().to_numpy()
    f, t = f[inside], t[inside]
    a, b = int(net.line.at[line_idx, "from_bus"]), int(net.line.at[line_idx, "to_bus"])
    hit = np.flatnonzero(((f == a) & (t == b)) | ((f == b) & (t == a)))
    if len(hit):          # drop one copy of this line's edge (parallel circuits stay)
        keep = np.ones(len(f), dtype=bool)
        keep[hit[0]] = False
        f, t = f[keep], t[keep]
    n = len(buses)
    g = coo_matrix((np.ones(len(f)), (pos.loc[f].to_numpy(), pos.loc[t].to_numpy())), shape=(n, n))
    count, label = connected_components(g, directed=False)
    if count == 1:
        return np.zeros(0, dtype=int)
    served = bal.served_mw.loc[isl.loads].to_numpy() if bal is not None else np.ones(len(isl.loads))
    load_bus = net.load.loc[isl.loads, "bus"].to_numpy()[served > 1e-6]
    gen_bus = net.gen.loc[isl.gens, "bus"].to_numpy()
    main = np.bincount(label).argmax()
    cut = buses[label != main]
    if np.isin(load_bus, cut).any() or np.isin(gen_bus, cut).any():
        return None
    return cut
