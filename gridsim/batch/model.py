"""The prepared model many cases share: one network state as arrays, and a case as masks on it.

``PreparedModel`` is built once per scenario: the network with availability applied
(``gridsim.simulate.prepare_network``), the scenario's own outages applied once (``gridsim.outages``), and the
DC model of what is left (``gridsim.solvers.dcmodel.build_dc_model``, so flows match pandapower's ``rundcpp``).
A case is then never a copy of the network: ``CaseMasks`` says which branches, units, buses and loads it takes
out or derates, resolved from the case's names with ``gridsim.outages.resolve_outage`` (the same names, the
same errors and the same meaning as ``simulate()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridsim.balance import _priority, demand_mw
from gridsim.dispatch import unit_cost
from gridsim.batch.names import NameIndex
from gridsim.outages import apply_outages
from gridsim.solvers.dcmodel import _nominal_rating, build_dc_model

#: in-service elements the fast engine does not model (``simulate()`` handles them; the normaliser turns
#: ext_grid and sgen into gen, so imported and built-in networks have none; 3-winding transformers would need
#: pandapower's loading rule for them)
_UNSUPPORTED = ("sgen", "ext_grid", "storage", "ward", "xward", "dcline", "switch", "trafo3w")
#: pandapower branch tables and their bus columns (a destroyed bus takes every branch touching it)
_BRANCH_BUSES = {"line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"),
                 "trafo3w": ("hv_bus", "mv_bus", "lv_bus"), "impedance": ("from_bus", "to_bus")}


#: outage kinds ``branch_masks`` answers from the name index, with the value types a scenario gives them
_PLAIN_BRANCH_KINDS = {"branch": int, "line": str, "transformer": str}
_NONE = np.zeros(0, dtype=np.int64)


@dataclass
class CaseMasks:
    """What one case changes on the prepared model (positions into the model's arrays)."""

    branch_out: np.ndarray      # model branches out (sorted, unique)
    bus_dead: np.ndarray        # model buses destroyed
    gen_out: np.ndarray         # gen positions out
    gen_cap: np.ndarray | None  # capacity per gen position (None: the prepared state's)
    load_out: np.ndarray        # load positions taken out (their demand is lost, cause isolated)

    @property
    def injections_unchanged(self) -> bool:
        return not (len(self.bus_dead) or len(self.gen_out) or self.gen_cap is not None or len(self.load_out))


class PreparedModel:
    """One network state (scenario applied) as arrays; ``masks(outages)`` turns a case into ``CaseMasks``."""

    def __init__(self, scenario, net=None):
        from gridsim.simulate import prepare_network

        self.scenario = scenario
        self.source = getattr(scenario, "source", None)
        self.base = prepare_network(scenario, net)
        self.n_scenario_outages = len(scenario.outages)
        self.damaged, self.applied = apply_outages(self.base, scenario.outages, self.source)
        _check_supported(self.damaged)
        self.dc = build_dc_model(self.damaged, rating=getattr(scenario, "rating", "rate_a"),
                                 emergency_factor=getattr(scenario, "emergency_factor", 1.0))
        self._buses()
        self._branches()
        self._units_and_loads()
        self.names = NameIndex(self.base, self.source)
        self._cache: dict = {}

    # -- arrays ------------------------------------------------------------------------------------------------
    def _buses(self) -> None:
        dc, bus = self.dc, self.damaged.bus
        self.n_bus = dc.n_bus
        self.bus_lookup = dc.bus_lookup
        self.bus_active = dc.bus_active.copy()
        self.bus_counted = dc.bus_active & ~dc.bus_is_aux     # buses find_islands counts
        self.bus_real = ~dc.bus_is_aux                         # model buses of pandapower buses
        on = bus["in_service"].astype(bool).to_numpy()
        if not np.array_equal(np.sort(dc.bus_lookup[bus.index.to_numpy()[on]]), np.flatnonzero(self.bus_counted)):
            raise ValueError("the fast engine needs one model bus per in-service bus (no bus-bus switches); "
                             "use SimulateEvaluator for this network")

    def _branches(self) -> None:
        dc, net = self.dc, self.damaged
        self.n_branch = dc.n_branch
        self.br_from, self.br_to = dc.from_bus, dc.to_bus
        self.edge_order = np.argsort(dc.from_bus, kind="stable")
        self.bw = dc.base_mva * dc.b_pu                      # MW per rad
        self.f_shift = dc.shift_flow_mw
        self.lp_limit = dc.rating_mw                          # what the optimal LP enforces
        self.detect_limit = self._detection_limits()          # what counts as an overload (lines, trafos)
        kind = np.array([k.split("_")[0] if str(k).startswith("trafo3w") else k for k in dc.branch_kind])
        self.branch_table = kind
        self._branch_pos: dict[tuple[str, int], list[int]] = {}
        for pos, (k, i) in enumerate(zip(kind, dc.branch_index)):
            self._branch_pos.setdefault((str(k), int(i)), []).append(pos)
        # pandapower bus -> model branches of every element touching it (a destroyed bus takes them all)
        rows, cols = [], []
        for table, bus_cols in _BRANCH_BUSES.items():
            if table not in net or not len(net[table]):
                continue
            df = net[table]
            for idx, buses in zip(df.index, df[list(bus_cols)].to_numpy()):
                for p in self._branch_pos.get((table, int(idx)), []):
                    rows += [int(b) for b in buses]
                    cols += [p] * len(buses)
        n_pp = len(self.bus_lookup)
        self.bus_branches = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_pp, self.n_branch))

    def _detection_limits(self) -> np.ndarray:
        """Per model branch, the flow (MW) above which ``simulate()`` reports an overload: the scenario's rating
        (``gridsim.solvers.ratings.Ratings``) over pandapower's DC loading factor; inf for other branches."""
        dc, net = self.dc, self.damaged
        out = np.full(dc.n_branch, np.inf)
        vn = net.bus["vn_kv"].astype(float)
        for table, a, b in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
            df = net[table]
            pos = np.flatnonzero(dc.branch_kind == table)
            if not len(pos):
                continue
            rows = df.index.get_indexer(dc.branch_index[pos])
            nominal = _nominal_rating(net, table)[rows]
            col = f"{dc.rating}_mva"
            chosen = df[col].to_numpy(dtype=float)[rows] if col in df.columns else nominal
            chosen = np.where(np.isnan(chosen) | (chosen <= 0), nominal, chosen) * dc.emergency_factor
            va, vb = vn.loc[df[a]].to_numpy()[rows], vn.loc[df[b]].to_numpy()[rows]
            if table == "line":   # i = |p| / (sqrt3 vn) at each end; loading against the from-bus rating
                factor = va * np.maximum(1.0 / va, 1.0 / vb)
            else:                 # trafo loading by current, rated at the winding voltages
                factor = np.maximum(df["vn_hv_kv"].to_numpy(float)[rows] / va,
                                    df["vn_lv_kv"].to_numpy(float)[rows] / vb)
            out[pos] = np.where(chosen > 0, chosen / factor, 0.0)
        return out

    def _units_and_loads(self) -> None:
        net, dc = self.damaged, self.dc
        gen = net.gen
        self.gen_index = gen.index.to_numpy()
        self.gen_bus = self.bus_lookup[gen["bus"].to_numpy(dtype=np.int64)]
        self.gen_on = gen["in_service"].astype(bool).to_numpy() & self.bus_active[self.gen_bus]
        self.gen_cap = gen["max_p_mw"].to_numpy(dtype=float)
        self.gen_prepared_cap = self.base.gen["max_p_mw"].astype(float).reindex(gen.index).to_numpy()
        self.gen_cost = unit_cost(net).to_numpy(dtype=float)
        self._gen_pos = pd.Series(np.arange(len(gen)), index=gen.index)
        load = net.load
        self.load_index = load.index.to_numpy()
        self.load_bus = self.bus_lookup[load["bus"].to_numpy(dtype=np.int64)]
        self.load_on = load["in_service"].astype(bool).to_numpy()
        self.demand = demand_mw(net).to_numpy(dtype=float)
        self.priority = _priority(net).to_numpy()
        self.critical = self.priority == 1
        self._load_pos = pd.Series(np.arange(len(load)), index=load.index)
        self._bus_pos_pp = pd.Series(np.arange(len(net.bus)), index=net.bus.index)

    def gen_position(self, gen_index) -> np.ndarray:
        """Positions in the gen arrays of pandapower ``gen`` indices."""
        return self._gen_pos.reindex(np.asarray(gen_index)).to_numpy()

    # -- cases -------------------------------------------------------------------------------------------------
    def masks(self, outages) -> CaseMasks:
        """The masks of a case's outage items (scenario ``Outage`` models); names resolve as ``simulate()``
        resolves them (ScenarioError, with the item's position after the scenario's own outages)."""
        branch_out: set[int] = set()
        dead_pp: set[int] = set()
        gen_out: set[int] = set()
        load_out: set[int] = set()
        derates: list[tuple[int, float]] = []
        for i, outage in enumerate(outages):
            derate = getattr(outage, "derate", None)
            for m in self._resolve(outage, self.n_scenario_outages + i):
                for table, idx in m.elements:
                    if derate is not None and table == "gen":
                        derates.append((int(self._gen_pos[idx]), float(derate)))
                    elif table == "bus":
                        dead_pp.add(int(idx))
                    elif table == "gen":
                        gen_out.add(int(self._gen_pos[idx]))
                    elif table == "load":
                        load_out.add(int(self._load_pos[idx]))
                    else:
                        branch_out.update(self._branch_pos.get((table, int(idx)), ()))
        bus_dead = np.array(sorted(dead_pp), dtype=np.int64)
        if len(bus_dead):
            branch_out.update(self.bus_branches[bus_dead].indices.tolist())
            gen_out.update(np.flatnonzero(np.isin(self.damaged.gen["bus"].to_numpy(), bus_dead)).tolist())
        cap = None
        if derates:
            cap = self.gen_cap.copy()
            for pos, d in derates:        # apply_outages: min(before, prepared capacity * derate)
                cap[pos] = min(cap[pos], self.gen_prepared_cap[pos] * d)
        model_dead = self.bus_lookup[bus_dead] if len(bus_dead) else np.zeros(0, np.int64)
        return CaseMasks(np.array(sorted(branch_out), dtype=np.int64), model_dead,
                         np.array(sorted(gen_out), dtype=np.int64), cap,
                         np.array(sorted(load_out), dtype=np.int64))

    def branch_masks(self, items) -> CaseMasks | None:
        """The masks of a case's outage items (YAML form) when every item names branches plainly
        (``{"branch": N}``, ``{"line": "name"}``, ``{"transformer": "name"}``) and the name index knows the name:
        a dictionary lookup instead of validating and resolving each item. None otherwise (use ``masks``)."""
        out: set[int] = set()
        for item in items:
            if len(item) != 1:
                return None
            (kind, value), = item.items()
            if kind not in _PLAIN_BRANCH_KINDS or not isinstance(value, _PLAIN_BRANCH_KINDS[kind]) \
                    or isinstance(value, bool):
                return None
            hit = self.names.lookup(kind, value)
            if hit is None:
                return None
            for tbl, idx in hit.elements:
                out.update(self._branch_pos.get((tbl, int(idx)), ()))
        return CaseMasks(np.array(sorted(out), dtype=np.int64), _NONE, _NONE, None, _NONE)

    def _resolve(self, outage, index: int):
        if outage.kind != "select":
            return self.names.resolve(outage, index)
        key = repr(outage.select)
        hit = self._cache.get(key)
        if hit is None:
            hit = self.names.resolve(outage, index)
            if len(self._cache) < 10_000:
                self._cache[key] = hit
        return hit


def _check_supported(net) -> None:
    for table in _UNSUPPORTED:
        if table in net and len(net[table]):
            df = net[table]
            on = df["closed"] if table == "switch" else df["in_service"]
            if on.astype(bool).any() or table == "switch":
                raise ValueError(f"the fast engine does not model in-service '{table}' elements; use "
                                 "SimulateEvaluator (gridsim.batch.cases) for this network")
    if "shunt" in net and len(net.shunt):
        sh = net.shunt
        if (sh["in_service"].astype(bool) & (sh["p_mw"].astype(float).abs() > 0)).any():
            raise ValueError("the fast engine does not model shunts with active power (p_mw != 0); use "
                             "SimulateEvaluator (gridsim.batch.cases) for this network")
