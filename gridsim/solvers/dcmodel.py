"""A sparse DC model of the in-service part of a pandapower net.

The branch reactances, tap ratios and phase shifts come from pandapower's own conversion to its internal
(PYPOWER) format, the same code ``pandapower.rundcpp`` runs, so flows computed from this model agree with
``rundcpp`` by construction (tests/test_optimal.py checks it to 1e-6 MW). Only the bus and branch part of
that conversion runs: it needs no slack, and a net that gridsim has not yet given a slack per island is fine.

Conventions: angles in radians, powers in MW. Every in-service branch ``k`` from bus ``i`` to bus ``j``
carries ``flow_k = base_mva * b_k * (theta_i - theta_j) + shift_flow_mw_k`` (``shift_flow_mw`` is non-zero
only on phase-shifting transformers), and the nodal balance reads ``incidence.T @ flow == injection``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandapower as pp
import scipy.sparse as sp
from pandapower.auxiliary import _add_pf_options, _add_ppc_options, _select_is_elements_numba
from pandapower.build_branch import _branches_with_oos_buses, _build_branch_dc_ppc, _build_branch_ppc, \
    _switch_branches
from pandapower.build_bus import _build_bus_dc_ppc, _build_bus_ppc, _calc_shunts_and_add_on_ppc
from pandapower.pd2ppc import _init_ppc
from pandapower.pypower.idx_brch import BR_STATUS, BR_X, F_BUS, SHIFT, T_BUS, TAP
from pandapower.pypower.idx_bus import BUS_TYPE, NONE

from gridsim._quiet import mute_numba_notice
from gridsim.errors import NetworkError

mute_numba_notice()

#: Rating choices: ``rate_a``/``rate_b``/``rate_c`` read the data contract's ``rate_*_mva`` columns where the
#: net has them (falling back per element to the nominal rating); ``nominal`` always uses pandapower's own.
RATINGS = ("rate_a", "rate_b", "rate_c", "nominal")

#: Generating elements the model knows, with the column holding their capacity.
GENERATORS = ("gen", "sgen", "ext_grid")

_TRAFO3W_SIDES = ("hv", "mv", "lv")


@dataclass(frozen=True, eq=False)
class DCModel:
    """Arrays of a DC network: buses are pandapower's internal buses (fused by closed bus-bus switches, plus
    auxiliary star points of 3-winding transformers), branches are the in-service ones only."""

    base_mva: float
    n_bus: int
    bus_lookup: np.ndarray  # pandapower bus index -> model bus (-1 where the index does not exist)
    bus_active: np.ndarray  # per model bus: in service
    bus_is_aux: np.ndarray  # per model bus: no pandapower bus maps to it (trafo3w star point, open-switch end)
    branch_kind: np.ndarray  # per branch: "line", "trafo", "trafo3w_hv", "impedance", ...
    branch_index: np.ndarray  # per branch: index in its pandapower table
    from_bus: np.ndarray
    to_bus: np.ndarray
    incidence: sp.csr_matrix  # branches x buses, +1 at the from bus, -1 at the to bus
    b_pu: np.ndarray  # series susceptance 1 / (x * tap) on base_mva
    shift_flow_mw: np.ndarray  # flow with all angles zero: base_mva * b * (-shift_rad)
    rating_mw: np.ndarray  # MW at which the loading check reads 100 % (rating / DC loading factor, times
    #                        emergency_factor); np.inf where unlimited
    rating: str
    emergency_factor: float
    load_index: np.ndarray  # in-service loads at in-service buses
    load_bus: np.ndarray
    load_p_mw: np.ndarray
    gen_kind: np.ndarray  # "gen", "sgen" or "ext_grid"
    gen_index: np.ndarray
    gen_bus: np.ndarray
    gen_max_p_mw: np.ndarray  # gen/sgen: max_p_mw (p_mw where missing); ext_grid: max_p_mw (inf where missing)
    _labels: dict = field(default_factory=dict, repr=False)

    @property
    def n_branch(self) -> int:
        return len(self.b_pu)

    @property
    def branches(self) -> pd.MultiIndex:
        """``(element, index)`` of every branch, in model order."""
        if "branches" not in self._labels:
            self._labels["branches"] = pd.MultiIndex.from_arrays(
                [self.branch_kind, self.branch_index], names=["element", "index"])
        return self._labels["branches"]

    @property
    def gens(self) -> pd.MultiIndex:
        """``(element, index)`` of every generating element, in model order."""
        if "gens" not in self._labels:
            self._labels["gens"] = pd.MultiIndex.from_arrays([self.gen_kind, self.gen_index],
                                                             names=["element", "index"])
        return self._labels["gens"]

    def flows_mw(self, theta_rad: np.ndarray) -> np.ndarray:
        """Branch flows (MW, from side) for bus angles ``theta_rad`` (one per model bus)."""
        return self.base_mva * self.b_pu * (self.incidence @ theta_rad) + self.shift_flow_mw

    def susceptance_matrix(self) -> sp.csr_matrix:
        """Bus susceptance matrix in MW/rad: ``A.T @ diag(base_mva * b) @ A``."""
        a = self.incidence
        return (a.T @ sp.diags(self.base_mva * self.b_pu) @ a).tocsr()

    def shift_injection_mw(self) -> np.ndarray:
        """Per model bus, the net outflow the phase shifters cause at zero angles (``A.T @ shift_flow_mw``)."""
        return self.incidence.T @ self.shift_flow_mw

    def buses_of(self, buses) -> np.ndarray:
        """Model buses of the pandapower bus indices ``buses`` (unique, sorted)."""
        idx = np.asarray(buses, dtype=np.int64)
        bad = (idx < 0) | (idx >= len(self.bus_lookup))
        mapped = np.full(len(idx), -1, dtype=np.int64)
        mapped[~bad] = self.bus_lookup[idx[~bad]]
        if (mapped < 0).any():
            raise KeyError(f"unknown buses: {idx[mapped < 0][:10].tolist()}")
        return np.unique(mapped)


def build_dc_model(net: pp.pandapowerNet, *, rating: str = "rate_a",
                   emergency_factor: float = 1.0) -> DCModel:
    """Build the DC model of the in-service part of ``net`` (which is left untouched).

    ``rating`` picks the branch limit: ``rate_a`` (default), ``rate_b``, ``rate_c`` or ``nominal`` (see
    ``RATINGS``); limits are multiplied by ``emergency_factor``. A rating <= 0 or NaN means unlimited.
    """
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {', '.join(RATINGS)}, got {rating!r}")
    if not emergency_factor > 0:
        raise ValueError(f"emergency_factor must be positive, got {emergency_factor}")
    ppc, work = _bus_branch_ppc(net)
    lookups = work["_pd2ppc_lookups"]
    bus = ppc["bus"]
    n_bus = bus.shape[0]
    bus_lookup = np.asarray(lookups["bus"], dtype=np.int64)
    bus_active = bus[:, BUS_TYPE].real != NONE
    bus_is_aux = np.ones(n_bus, dtype=bool)
    bus_is_aux[bus_lookup[net.bus.index.to_numpy()]] = False

    br = ppc["branch"]
    kind, index, rating_all = _branch_labels_and_ratings(work, lookups["branch"], br.shape[0], rating)
    f = br[:, F_BUS].real.astype(np.int64)
    t = br[:, T_BUS].real.astype(np.int64)
    keep = (br[:, BR_STATUS].real > 0) & bus_active[f] & bus_active[t]
    f, t, kind, index = f[keep], t[keep], kind[keep], index[keep]
    x = br[keep, BR_X].real
    if (x == 0).any():
        zero = [f"{k} {i}" for k, i in zip(kind[x == 0][:5], index[x == 0][:5])]
        raise NetworkError(f"branches with zero reactance ({', '.join(zero)}): a DC model needs x != 0; "
                           "give them a small reactance or model them as a closed bus-bus switch")
    tap = br[keep, TAP].real
    tap = np.where(tap == 0, 1.0, tap)
    b = 1.0 / (x * tap)
    base = float(ppc["baseMVA"])
    shift_flow = base * b * (-np.deg2rad(br[keep, SHIFT].real))
    m = len(b)
    rows = np.repeat(np.arange(m), 2)
    cols = np.column_stack([f, t]).ravel()
    vals = np.tile([1.0, -1.0], m)
    incidence = sp.csr_matrix((vals, (rows, cols)), shape=(m, n_bus))
    rating_mw = rating_all[keep] * emergency_factor

    load_index, load_bus, load_p = _injections(net, "load", "p_mw", None, bus_lookup, bus_active,
                                               exclude="disconnected")
    gens = [_injections(net, kind_, "max_p_mw", "p_mw" if kind_ != "ext_grid" else np.inf, bus_lookup,
                        bus_active) for kind_ in GENERATORS]
    gen_kind = np.concatenate([np.full(len(g[0]), k, dtype=object) for k, g in zip(GENERATORS, gens)])
    gen_index, gen_bus, gen_max = (np.concatenate([g[i] for g in gens]) for i in range(3))
    return DCModel(base_mva=base, n_bus=n_bus, bus_lookup=bus_lookup, bus_active=bus_active,
                   bus_is_aux=bus_is_aux, branch_kind=kind, branch_index=index, from_bus=f, to_bus=t,
                   incidence=incidence, b_pu=b, shift_flow_mw=shift_flow, rating_mw=rating_mw, rating=rating,
                   emergency_factor=float(emergency_factor), load_index=load_index, load_bus=load_bus,
                   load_p_mw=load_p, gen_kind=gen_kind, gen_index=gen_index.astype(np.int64),
                   gen_bus=gen_bus.astype(np.int64), gen_max_p_mw=gen_max)


def _bus_branch_ppc(net: pp.pandapowerNet, ac: dict | None = None) -> tuple[dict, pp.pandapowerNet]:
    """The bus and branch part of pandapower's ``_pd2ppc`` in DC mode, on a shallow copy of ``net``; with ``ac``
    (``tolerance_mva`` and ``max_iteration``), in AC power-flow mode with the shunts on the buses, as
    ``runpp`` builds it (``gridsim.batch.acnet``).

    pandapower writes its caches (``_options``, ``_pd2ppc_lookups``, ``_is_elements``) into the net it
    converts; the shallow copy keeps them off the caller's net. Tables are shared, and only read (the shunt
    table excepted, copied in AC: pandapower fills its missing ``vn_kv`` in place).
    """
    work = copy.copy(net)
    if ac is not None:
        work["shunt"] = net.shunt.copy()
    work["_options"] = {}
    mode = "dc" if ac is None else "pf"
    _add_ppc_options(work, calculate_voltage_angles=True, trafo_model="t", check_connectivity=False, mode=mode,
                     switch_rx_ratio=2, init_vm_pu="flat", init_va_degree="flat", enforce_p_lims=False,
                     enforce_q_lims=False, recycle=None, voltage_depend_loads=ac is not None, delta=0,
                     trafo3w_losses="hv")
    pf = {"tolerance_mva": None, "algorithm": None, "max_iteration": None} if ac is None else {"algorithm": "nr", **ac}
    _add_pf_options(work, trafo_loading="current", numba=False, ac=ac is not None, only_v_results=False, **pf)
    empty = np.array([], dtype=np.int64)
    work["_pd2ppc_lookups"] = {"bus": empty, "bus_dc": empty, "ext_grid": empty, "gen": empty,
                               "branch": empty, "branch_dc": empty}
    work["_is_elements"] = _select_is_elements_numba(work)
    ppc = _init_ppc(work, mode=mode)
    _build_bus_ppc(work, ppc)
    if ac is None:
        _build_bus_dc_ppc(work, ppc)
    _build_branch_ppc(work, ppc)
    if ac is None:
        _build_branch_dc_ppc(work, ppc)
    _switch_branches(work, ppc)
    _branches_with_oos_buses(work, ppc)
    if ac is not None:
        _calc_shunts_and_add_on_ppc(work, ppc)
    return ppc, work


def _branch_labels_and_ratings(net, lookup: dict, n: int, rating: str):
    """Per ppc branch row: element kind, element index and rating in MW (inf where unlimited)."""
    kind = np.full(n, "other", dtype=object)
    index = np.full(n, -1, dtype=np.int64)
    limit = np.full(n, np.inf)
    for element, (start, end) in lookup.items():
        table = net[element]
        if element == "trafo3w":
            k = len(table)
            for s, side in enumerate(_TRAFO3W_SIDES):
                rows = slice(start + s * k, start + (s + 1) * k)
                kind[rows] = f"trafo3w_{side}"
                index[rows] = table.index.to_numpy()
                limit[rows] = table[f"sn_{side}_mva"].to_numpy(dtype=float)
            continue
        rows = slice(start, end)
        kind[rows] = element
        if element == "switch":  # impedance bus-bus switches, in pandapower's order
            index[rows] = table.index[net["_impedance_bb_switches"]].to_numpy()
            continue
        index[rows] = table.index.to_numpy()
        nominal = _nominal_rating(net, element)
        column = f"{rating}_mva"
        if rating != "nominal" and column in table:
            chosen = table[column].to_numpy(dtype=float)
            limit[rows] = np.where(np.isnan(chosen), nominal, chosen)
        else:
            limit[rows] = nominal
        limit[rows] = limit[rows] / _dc_loading_factor(net, element)
    limit = np.where(np.isnan(limit) | (limit <= 0), np.inf, limit)
    return kind, index, limit


def _dc_loading_factor(net, element: str) -> np.ndarray:
    """Per element: pandapower's DC loading (current-based, at 1 p.u. of the buses' nominal voltages) per MW
    of flow, relative to the rating in MVA. 1 where bus and rated voltages agree; a 115 kV winding on a 110 kV
    bus reads 4.5 % more. Dividing a rating by it gives the MW flow at which the loading check reads 100 %,
    so the LP limits exactly what the check measures."""
    table = net[element]
    if element not in ("line", "trafo") or not len(table):
        return np.ones(len(table))
    vn = net.bus["vn_kv"].astype(float)
    if element == "line":
        va, vb = vn.reindex(table["from_bus"]).to_numpy(), vn.reindex(table["to_bus"]).to_numpy()
        factor = va * np.maximum(1.0 / va, 1.0 / vb)
    else:
        va, vb = vn.reindex(table["hv_bus"]).to_numpy(), vn.reindex(table["lv_bus"]).to_numpy()
        factor = np.maximum(table["vn_hv_kv"].to_numpy(float) / va, table["vn_lv_kv"].to_numpy(float) / vb)
    return np.where(np.isfinite(factor) & (factor > 0), factor, 1.0)


def _nominal_rating(net, element: str) -> np.ndarray:
    """pandapower's own rating in MVA: lines ``max_i_ka * df * parallel * sqrt(3) * vn_kv`` (from bus), trafos
    ``sn_mva * df * parallel``; impedances and xwards have none (inf)."""
    table = net[element]
    if element == "line":
        vn = net.bus["vn_kv"].reindex(table["from_bus"]).to_numpy(dtype=float)
        return (table["max_i_ka"].to_numpy(dtype=float) * table["df"].to_numpy(dtype=float)
                * table["parallel"].to_numpy(dtype=float) * np.sqrt(3) * vn)
    if element == "trafo":
        return (table["sn_mva"].to_numpy(dtype=float) * table["df"].to_numpy(dtype=float)
                * table["parallel"].to_numpy(dtype=float))
    return np.full(len(table), np.inf)


def _injections(net, element: str, column: str, fallback, bus_lookup: np.ndarray, bus_active: np.ndarray,
                exclude: str | None = None):
    """Index, model bus and ``column`` value of the in-service elements of ``element`` at in-service buses
    (and not flagged in the boolean column ``exclude``, e.g. loads the damage disconnected).
    NaN (or a missing column) takes ``fallback``: another column's name, or a number."""
    table = net[element]
    if len(table) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([], dtype=float)
    bus = bus_lookup[table["bus"].to_numpy(dtype=np.int64)]
    keep = table["in_service"].to_numpy(dtype=bool) & bus_active[bus]
    if exclude is not None and exclude in table.columns:
        keep &= ~table[exclude].fillna(False).to_numpy(dtype=bool)
    values = table[column].to_numpy(dtype=float) if column in table else np.full(len(table), np.nan)
    if fallback is not None:
        other = table[fallback].to_numpy(dtype=float) if isinstance(fallback, str) else fallback
        values = np.where(np.isnan(values), other, values)
    return table.index.to_numpy()[keep], bus[keep], values[keep]
