"""find_islands: split the damaged network into electrically connected islands.

Connected components of the in-service buses over in-service branches (lines, transformers, three-winding
transformers, impedances, closed bus-bus switches), found with scipy.sparse.csgraph. Each island knows its
buses, loads, demand, generating units, available capacity and its slack candidate (the largest unit).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class Island:
    id: int
    buses: np.ndarray          # pandapower bus indices
    loads: np.ndarray          # load indices (in service) on these buses
    gens: np.ndarray           # in-service gen indices with available capacity > 0
    demand_mw: float
    capacity_mw: float
    slack: int | None          # gen index of the slack candidate, None for a dead island

    @property
    def energised(self) -> bool:
        return self.slack is not None


@dataclass
class Islands:
    islands: list[Island]
    bus_island: pd.Series      # bus index -> island id (-1: bus out of service)

    def __iter__(self):
        return iter(self.islands)

    def __len__(self) -> int:
        return len(self.islands)

    @property
    def energised(self) -> list[Island]:
        return [i for i in self.islands if i.energised]

    def without_buses(self, buses) -> "Islands":
        """The same islands (same ids) with ``buses`` de-energised (island -1): for an empty dead end that
        operators disconnect. The buses must carry no load of the island and no unit."""
        drop = np.asarray(list(buses))
        out = [dataclasses.replace(i, buses=i.buses[~np.isin(i.buses, drop)]) for i in self.islands]
        bus_island = self.bus_island.copy()
        bus_island.loc[drop] = -1
        return Islands(out, bus_island)

    def with_slack(self, slack: dict[int, int]) -> "Islands":
        """The same islands with the slack of each island named in ``slack`` (island id -> gen) replaced."""
        return Islands([dataclasses.replace(i, slack=slack[i.id]) if i.id in slack and i.energised else i
                        for i in self.islands], self.bus_island)


def branch_edges(net) -> tuple[np.ndarray, np.ndarray]:
    """(from, to) bus index arrays of every in-service connection between in-service buses."""
    bus_ok = net.bus["in_service"].astype(bool)
    fr: list[np.ndarray] = []
    to: list[np.ndarray] = []

    def add(df: pd.DataFrame, a: str, b: str, mask=None) -> None:
        if not len(df):
            return
        m = df["in_service"].astype(bool).to_numpy() if "in_service" in df.columns else np.ones(len(df), bool)
        if mask is not None:
            m &= mask
        fr.append(df[a].to_numpy()[m])
        to.append(df[b].to_numpy()[m])

    sw = net.switch if "switch" in net else pd.DataFrame()
    open_el = {"l": set(), "t": set(), "t3": set()}
    if len(sw):
        for et in open_el:
            open_el[et] = set(sw.loc[(sw["et"] == et) & ~sw["closed"].astype(bool), "element"].astype(int))

    def not_open(df: pd.DataFrame, et: str) -> np.ndarray:
        return ~df.index.isin(list(open_el[et])) if open_el[et] else np.ones(len(df), bool)

    add(net.line, "from_bus", "to_bus", not_open(net.line, "l"))
    add(net.trafo, "hv_bus", "lv_bus", not_open(net.trafo, "t"))
    if "trafo3w" in net and len(net.trafo3w):
        m = not_open(net.trafo3w, "t3")
        add(net.trafo3w, "hv_bus", "mv_bus", m)
        add(net.trafo3w, "hv_bus", "lv_bus", m)
    if "impedance" in net and len(net.impedance):
        add(net.impedance, "from_bus", "to_bus")
    if len(sw):
        bb = sw[(sw["et"] == "b") & sw["closed"].astype(bool)]
        if len(bb):
            fr.append(bb["bus"].to_numpy())
            to.append(bb["element"].to_numpy().astype(int))
    if not fr:
        return np.zeros(0, int), np.zeros(0, int)
    f = np.concatenate(fr).astype(int)
    t = np.concatenate(to).astype(int)
    ok = bus_ok.reindex(f).to_numpy() & bus_ok.reindex(t).to_numpy()
    return f[ok], t[ok]


def find_islands(net) -> Islands:
    """Connected components of the in-service network, largest first (island 0 is the main grid)."""
    bus_idx = net.bus.index.to_numpy()
    in_svc = net.bus["in_service"].astype(bool).to_numpy()
    pos = pd.Series(np.arange(len(bus_idx)), index=bus_idx)
    f, t = branch_edges(net)
    n = len(bus_idx)
    graph = coo_matrix((np.ones(len(f)), (pos.loc[f].to_numpy(), pos.loc[t].to_numpy())), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    labels = np.where(in_svc, labels, -1)

    load = net.load
    load_on = load["in_service"].astype(bool).to_numpy()
    if "disconnected" in load.columns:      # hit by the damage itself: demand kept, never served
        load_on &= ~load["disconnected"].fillna(False).astype(bool).to_numpy()
    load_lab = labels[pos.loc[load["bus"]].to_numpy()] if len(load) else np.zeros(0, int)
    gen = net.gen
    gen_ok = gen["in_service"].astype(bool).to_numpy() & (gen["max_p_mw"].to_numpy() > 1e-9)
    gen_lab = labels[pos.loc[gen["bus"]].to_numpy()] if len(gen) else np.zeros(0, int)
    gen_ok &= gen_lab >= 0

    comps = [c for c in np.unique(labels) if c >= 0]
    # largest first, ties by lowest bus position, so numbering is deterministic
    order = sorted(comps, key=lambda c: (-int((labels == c).sum()), int(np.argmax(labels == c))))
    islands: list[Island] = []
    new_label = np.full(n, -1)
    for new_id, c in enumerate(order):
        members = labels == c
        new_label[members] = new_id
        lmask = (load_lab == c) & load_on
        gmask = (gen_lab == c) & gen_ok
        gens = gen.index.to_numpy()[gmask]
        cap = gen["max_p_mw"].to_numpy()[gmask].astype(float)
        slack = None
        if len(gens):
            # largest available unit; ties -> lowest index
            slack = int(gens[np.lexsort((gens, -cap))[0]])
        islands.append(Island(
            id=new_id, buses=bus_idx[members], loads=load.index.to_numpy()[lmask], gens=gens,
            demand_mw=float(load["p_mw"].to_numpy()[lmask].sum()), capacity_mw=float(cap.sum()), slack=slack))
    return Islands(islands, pd.Series(new_label, index=bus_idx))
