"""Local load shedding where the AC power flow fails or voltages collapse (the optimal response's AC stage).

A voltage problem is local: a region at the end of a long line, a pocket behind a lost transformer. Shedding
the whole island for it (as a proportional step would) punishes every region for one weak supply path. So:

0. **Near the low buses first**: the loads at the buses below the band, then within one branch of them
   (``load_hops``: branches in service; ``NEAR_HOPS``), each tried as in step 2; the buses are those of the
   converged state nearest the full demand (the full demand itself when AC converges there, else step 1's
   state). The load-scaling sensitivity of step 1 follows the re-dispatch a 5 % lighter island brings (units
   far away move) as much as the weak buses: on the built-in grid without the Yavir NPP substation (AC
   converged, four buses at 0.87-0.90 p.u.) it put those buses at sensitivity 0 and shed 8,356 MW in 13
   regions, where the loads at those buses need 29.5 MW; without the Velykohrad and Zorya NPP substations (AC
   diverged) the loads at the low buses shed 1,103 MW where the weak area shed 1,138 MW.
1. **Locate** (``locate_weak_buses``): scale the island's served demand by ``alpha`` and bisect for the
   largest ``alpha`` at which the AC power flow converges (1.0 when it already converges). Between that
   state and one 5 % lighter, the per-bus voltage rise is the bus's *voltage sensitivity to load*; the weak
   area is the buses whose sensitivity is at least a fraction of the largest (plus every bus below the
   voltage band). This is a load-scaling search that reads the last converged iterate, the classic way to
   find the buses that take part in a voltage collapse (their participation in the critical mode).
2. **Shed there only** (``shed_weak_area``): the least fraction ``beta`` of the weak area's served demand
   to shed (priority classes respected), on a grid of 1/128 (what seven bisection steps give), that gives a
   converged AC state with every bus of the island at or above ``VM_MIN_PU``; found by regula falsi on the
   lowest voltage (``least_in_band``: the bisection's answer where more shed means higher voltages, in about
   3.5 AC runs instead of seven).
3. **Widen** only if shedding the whole weak area does not help: the area is widened (lower sensitivity
   fractions) and, as the documented last resort, to the whole island, which the notes then say.

Every figure the notes quote comes from an AC state this module solved (never from a DC fallback).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from pandapower.run import runpp   # not pp.runpp: the command line defers pandapower's __init__ (gridsim._lazy)

from gridsim.balance import shed_to
from gridsim.dispatch import unit_cost

#: voltage band (p.u.) an energised island must respect after the optimal response
VM_MIN_PU, VM_MAX_PU = 0.90, 1.10
#: weak-area thresholds, as fractions of the largest voltage sensitivity, tried in order (0: whole island)
AREA_FRACTIONS = (0.5, 0.25, 0.1, 0.0)
#: bisection steps on the shed fraction, and on the load scaling when locating the weak area
BISECT_STEPS = 7
LOCATE_STEPS = 6
#: how far inside the band (p.u.) the relief aims where it can: the state reported comes from later solves of
#: the round (the shedding LP's re-dispatch, the capacity guard), which can move the lowest voltage by a few
#: 1e-4 p.u.; aimed at the band's floor itself, a relief that shed 104 MW ended 0.0004 p.u. below it
#: ("violated"). 0.002 cost 340 MW more on a case whose voltage rises slowly with shed; 0.001 cost 21 MW there
RELIEF_MARGIN_PU = 0.001
#: hops (branches in service) around the buses below the band whose loads are tried first, in order. Wider
#: rings were tried (2, 3): on 60 random heavy-damage AC cases of the built-in grid they shed more than the
#: sensitivity areas where they were reached (one case: 8,871 MW in 513 loads within 3 branches, 4,743 MW by
#: the weak area); with (0, 1) the 60 shed 22,475 MW in all against 39,152 MW before the rings (34 cases less, 5
#: more by at most 5.5 MW: ``RELIEF_MARGIN_PU``)
NEAR_HOPS = (0, 1)
#: scalings probed (in order) for a converging lower bound when locating; below the last the problem is
#: not one of loading
PROBES = (0.5, 0.25, 0.1, 0.03, 0.01)
MIN_ALPHA = PROBES[-1]


@dataclass
class ACState:
    converged: bool
    vm: np.ndarray | None = None          # voltage magnitude (p.u.) per island bus, in the order of ``buses``
    min_vm_pu: float = np.nan
    max_vm_pu: float = np.nan
    gen_p_mw: pd.Series | None = None     # per island unit
    buses: np.ndarray | pd.Index | None = None     # the island's buses (pandapower index)

    @property
    def vm_pu(self) -> pd.Series | None:
        """``vm`` as a Series indexed by bus (made on demand: the relief itself works on the arrays)."""
        return None if self.vm is None else pd.Series(self.vm, index=self.buses)

    def in_band(self) -> bool:
        return self.converged and self.min_vm_pu >= VM_MIN_PU - 1e-9

    def vm_on(self, other: ACState) -> np.ndarray:
        """``vm`` on ``other``'s buses (NaN where this state has no value): the array itself when both states
        have the same buses, as every run of one island has."""
        if self.buses is other.buses or np.array_equal(np.asarray(self.buses), np.asarray(other.buses)):
            return self.vm
        return pd.Series(self.vm, index=self.buses).reindex(other.buses).to_numpy(dtype=float)


class IslandAC:
    """One island of a prepared (slack-marked, served-load) working copy, solved on its own.

    ``run(served)`` sets the island's loads to ``served`` MW (reactive demand in proportion), re-dispatches
    its units in merit order for ``served * (1 + allowance)`` and runs pandapower's AC power flow.
    """

    def __init__(self, net, islands, bal, island, allowance: float):
        from gridsim.solvers.powerflow import _prepare

        self.work = _prepare(net, islands, bal)
        self.island = island
        bus_on = self.work.bus["in_service"].copy()
        self.work.bus["in_service"] = False
        self.work.bus.loc[island.buses, "in_service"] = bus_on.loc[island.buses]
        self.loads = island.loads
        p = net.load.loc[self.loads, "p_mw"].to_numpy(dtype=float)
        q = net.load.loc[self.loads, "q_mvar"].to_numpy(dtype=float)
        self.q_per_p = np.divide(q, p, out=np.zeros(len(p)), where=p > 0)
        self.cap = self.work.gen.loc[island.gens, "max_p_mw"].to_numpy(dtype=float)
        self.cost = unit_cost(self.work).loc[island.gens].to_numpy(dtype=float)
        self.base_p = np.minimum(bal.gen_p_mw.loc[island.gens].to_numpy(dtype=float), self.cap)
        self.allowance = allowance
        self.runs = 0
        self._memo: dict[bytes, ACState] = {}      # served (bytes) -> its state: the relief asks some twice

    @cached_property
    def _totals(self) -> tuple[float, float]:
        """The island's capacity and dispatch (MW): fixed once it is prepared."""
        return float(self.cap.sum()), float(self.base_p.sum())

    def dispatch(self, served: np.ndarray) -> np.ndarray:
        """The current dispatch moved in merit order to the new demand: less demand takes the most
        expensive units down first, more demand takes the cheapest headroom first."""
        cap_total, now = self._totals
        target = min(cap_total, float(served.sum()) * (1.0 + self.allowance))
        if target <= now:
            return self.base_p - self._merit(True)(now - target)
        return self.base_p + self._merit(False)(target - now)

    def _merit(self, down: bool) -> MeritOrder:
        """The merit order of the units' output (``down``) or headroom, built on first use (``base_p``, ``cap``
        and ``cost`` are fixed once the island is prepared)."""
        key = "_merit_down" if down else "_merit_up"
        got = self.__dict__.get(key)
        if got is None:
            got = MeritOrder(self.base_p, -self.cost) if down else MeritOrder(self.cap - self.base_p, self.cost)
            setattr(self, key, got)
        return got

    def load_buses(self) -> np.ndarray:
        """The buses (pandapower index) of the island's loads, in ``loads`` order."""
        return self.work.load.loc[self.loads, "bus"].to_numpy()

    def bus_graph(self) -> tuple[np.ndarray, np.ndarray]:
        """(from, to) pandapower buses of the island's branches in service (``gridsim.topology.branch_edges``)."""
        from gridsim.topology import branch_edges

        return branch_edges(self.work)

    def run(self, served: np.ndarray) -> ACState:
        key = np.ascontiguousarray(served, dtype=float).tobytes()
        if key not in self._memo:
            self._memo[key] = self._run(np.asarray(served, dtype=float))
        return self._memo[key]

    def _run(self, served: np.ndarray) -> ACState:
        w = self.work
        w.load.loc[self.loads, "p_mw"] = served
        w.load.loc[self.loads, "q_mvar"] = served * self.q_per_p
        w.gen.loc[self.island.gens, "p_mw"] = self.dispatch(served)
        self.runs += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runpp(w, numba=False, init="dc", max_iteration=30, calculate_voltage_angles=True)
        except Exception:  # noqa: BLE001 -- non-convergence is an answer here
            return ACState(False)
        vm = w.res_bus.loc[self.island.buses, "vm_pu"]
        gp = w.res_gen.loc[self.island.gens, "p_mw"]
        return ACState(True, vm.to_numpy(dtype=float), float(vm.min()), float(vm.max()), gp, vm.index)


class MeritOrder:
    """``gridsim.dispatch.merit_dispatch(capacity, cost, target)`` for many targets, with the grouping by cost
    done once: the same arithmetic, so the same output (tests/test_batch_ac.py checks it)."""

    def __init__(self, capacity: np.ndarray, cost: np.ndarray):
        self.cap = np.maximum(np.asarray(capacity, dtype=float), 0.0)
        levels, self.group = np.unique(np.asarray(cost, dtype=float), return_inverse=True)
        self.group_cap = np.bincount(self.group, weights=self.cap, minlength=len(levels))
        self.before = np.cumsum(self.group_cap) - self.group_cap

    def __call__(self, target_mw: float) -> np.ndarray:
        if self.cap.size == 0:
            return self.cap.copy()
        u = np.divide(np.clip(float(target_mw) - self.before, 0.0, self.group_cap), self.group_cap,
                      out=np.zeros(len(self.group_cap)), where=self.group_cap > 0)
        return self.cap * u[self.group]


def locate_weak_buses(ac: IslandAC, served: np.ndarray) -> tuple[np.ndarray | None, float, ACState]:
    """(voltage sensitivity per island bus, on the buses of the returned state (``state.buses``), the largest
    converging load scaling, the state there).

    Sensitivity is None when AC does not converge even at ``MIN_ALPHA`` of the served demand."""
    state = ac.run(served)
    alpha = 1.0
    if not state.converged:
        hi, lo, lo_state = 1.0, None, None
        for probe_alpha in PROBES:          # a converging lower bound, coarse to fine
            probe = ac.run(served * probe_alpha)
            if probe.converged:
                lo, lo_state = probe_alpha, probe
                break
            hi = probe_alpha
        if lo is None:
            return None, 0.0, probe
        for _ in range(LOCATE_STEPS):
            mid = 0.5 * (lo + hi)
            st = ac.run(served * mid)
            if st.converged:
                lo, lo_state = mid, st
            else:
                hi = mid
        alpha, state = lo, lo_state
    lighter = ac.run(served * alpha * 0.95)
    if not lighter.converged:
        return np.clip(1.0 - state.vm, 0.0, None), alpha, state
    # the rise per bus (NaN where the lighter state has no value: such a bus is never weak)
    return np.clip(lighter.vm_on(state) - state.vm, 0.0, None), alpha, state


def weak_loads(ac: IslandAC, sensitivity: np.ndarray, state: ACState, fraction: float) -> np.ndarray:
    """Mask over the island's loads: loads at buses whose sensitivity (per bus of ``state``) is >= ``fraction`` of
    the largest, or below the voltage band in ``state``; every load for ``fraction == 0``."""
    if fraction <= 0:
        return np.ones(len(ac.loads), dtype=bool)
    bus = ac.load_buses()
    known = sensitivity[~np.isnan(sensitivity)]
    top = float(known.max()) if len(known) else np.nan
    weak = sensitivity >= fraction * top - 1e-12 if top > 0 else np.zeros(len(sensitivity), dtype=bool)
    if state.converged and state.vm is not None:
        weak = weak | (state.vm < VM_MIN_PU)
    return np.isin(bus, np.asarray(state.buses)[weak]) if weak.any() else np.zeros(len(bus), dtype=bool)


def load_hops(ac, seeds: np.ndarray) -> np.ndarray:
    """Per island load, the number of branches (in service, ``ac.bus_graph()``) between its bus and the nearest
    of ``seeds`` (pandapower buses); inf where none is connected."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    f, t = ac.bus_graph()
    load_bus = ac.load_buses()
    nodes = np.unique(np.concatenate([f, t, seeds, load_bus]).astype(np.int64))
    n = len(nodes)
    graph = csr_matrix((np.ones(len(f)), (np.searchsorted(nodes, f), np.searchsorted(nodes, t))), shape=(n, n))
    dist = shortest_path(graph, directed=False, unweighted=True, indices=np.searchsorted(nodes, seeds))
    return np.atleast_2d(dist).min(axis=0)[np.searchsorted(nodes, load_bus)]


def shed_weak_area(ac: IslandAC, served: np.ndarray, mask: np.ndarray, priority: np.ndarray,
                   method: str, strict: bool = True) -> tuple[np.ndarray, ACState] | None:
    """Least shed of the masked loads (a fraction on the grid ``GRID``, ``least_in_band``) that gives a converged
    AC state in band; None when shedding all of them does not. With ``strict=False``, buses still below the band with
    all of them shed are left out of the judgement (a reactive-power problem shedding cannot fix)."""
    def with_shed(beta: float) -> np.ndarray:
        out = served.copy()
        part = served[mask]
        out[mask] = shed_to(part, priority[mask], float(part.sum()) * (1.0 - beta), method)
        return out

    full = ac.run(with_shed(1.0))
    if not full.converged or (strict and not full.in_band()):
        return None
    # buses below the band even with the whole area shed are not a loading problem: judge the others
    keep = full.vm >= VM_MIN_PU - 1e-9
    if not keep.any():
        return None

    # the floor aimed at: ``RELIEF_MARGIN_PU`` inside the band where shedding the whole area gets there
    floor = VM_MIN_PU + RELIEF_MARGIN_PU if float(full.vm[keep].min()) >= VM_MIN_PU + RELIEF_MARGIN_PU else \
        VM_MIN_PU - 1e-9

    def margin(st: ACState) -> float | None:
        """Lowest judged voltage less the floor aimed at (>= 0: in band); None when not converged."""
        if not st.converged:
            return None
        return float(st.vm_on(full)[keep].min()) - floor

    k, best = least_in_band(lambda k: ac.run(with_shed(k / GRID)), margin, full)
    return with_shed(k / GRID), best


#: the shed fractions ``shed_weak_area`` tries: k / GRID, as ``BISECT_STEPS`` bisection steps would
GRID = 2 ** BISECT_STEPS
#: ``least_in_band`` interpolates ``expm1(CURVE * margin)`` (margin in p.u.): fewest runs on the built-in
#: grid's reliefs (a tuning constant: the answer does not depend on it, only the number of runs)
CURVE = 15.0


def least_in_band(run, margin, full: ACState) -> tuple[int, ACState]:
    """(k, state): the least k in 1..GRID whose state ``run(k)`` is in band (``margin >= 0``; k = GRID, the
    state ``full``, is), as a bisection over the grid finds it where the margin grows with the shed (more shed,
    higher voltages; then it is the same k, and it was on every relief of the built-in grid's single lines).

    A bracket (lo: below the band, or 0; hi: in band) is narrowed at the grid point at or above the crossing
    its two margins predict (regula falsi on ``expm1(CURVE * margin)``, which straightens the usual margin
    curve, steep at first and then flat as voltages recover; Illinois variant: an end kept twice in a row has
    its margin halved, so that a curved margin does not make every probe land on one side). About 3.5 runs
    instead of the bisection's ``BISECT_STEPS`` on the built-in grid. Where no crossing can be predicted (lo not
    converged, or in band already at 0) and after ``BISECT_STEPS`` predictions, midpoints (bisection)."""
    lo, hi, best = 0, GRID, full
    m_lo, m_hi = margin(run(0)), margin(full)
    guesses, kept = 0, 0            # kept: +1 hi moved last (lo kept), -1 lo moved last
    while hi - lo > 1:
        if m_lo is not None and m_lo < 0 and guesses < BISECT_STEPS:
            guesses += 1
            a, b = math.expm1(CURVE * m_lo), math.expm1(CURVE * m_hi)
            k = min(max(lo + math.ceil((hi - lo) * -a / (b - a)), lo + 1), hi - 1)
        else:
            k = (lo + hi) // 2
        st = run(k)
        m = margin(st)
        if m is not None and m >= 0:
            hi, m_hi, best = k, m, st
            if kept == 1 and m_lo is not None:
                m_lo /= 2
            kept = 1
        else:
            lo, m_lo = k, m
            if kept == -1:
                m_hi /= 2
            kept = -1
    return hi, best


def _shed_note(where: str, served, new, mask, fraction: float, state: ACState, area: str | None = None) -> str:
    shed = float(served.sum() - new.sum())
    if area is None:
        area = "the whole island (last resort: no smaller area was enough)" if fraction <= 0 else \
            f"{int(mask.sum())} loads in the weak area (voltage sensitivity >= {fraction:.0%} of the largest)"
    still = "" if state.in_band() else \
        " (buses below the band whatever is shed are left as a reactive-power problem)"
    return (f"{where}; shed {shed:.1f} MW at {area}; after it the AC power flow converges with voltages "
            f"{state.min_vm_pu:.3f}-{state.max_vm_pu:.3f} p.u.{still}")


def relieve_voltage(ac: IslandAC, served: np.ndarray, priority: np.ndarray, method: str):
    """Served demand per island load after local voltage shedding, the AC state it gives, and a note.

    Returns ``(served, state, note)``; ``state`` is None when no shedding helps (the note says why)."""
    first = ac.run(served)
    if first.in_band():
        return served, first, ("AC converges in band on its own with the current dispatch; nothing shed "
                               f"(voltages {first.min_vm_pu:.3f}-{first.max_vm_pu:.3f} p.u.)")
    # the sensitivities are needed first only where AC diverges (their state is the one nearest full demand)
    sens, alpha, at = (None, 1.0, first) if first.converged else locate_weak_buses(ac, served)
    if sens is None and not first.converged:
        return served, None, _NOT_LOADING
    where = (f"AC did not converge at full demand (converges up to {alpha:.0%}, lowest voltage there "
             f"{at.min_vm_pu:.3f} p.u.)" if not first.converged else
             f"lowest voltage {first.min_vm_pu:.3f} p.u. at {int((first.vm < VM_MIN_PU).sum())} buses")
    found = _near_low_buses(ac, served, priority, method, at, where)
    if found is not None:
        return found
    if sens is None:
        sens, alpha, at = locate_weak_buses(ac, served)
        if sens is None:
            return served, None, _NOT_LOADING
    # the smallest area whose shedding restores the band; failing that, the smallest that restores
    # convergence (buses below the band whatever is shed are then a reactive-power problem, reported)
    # the whole island only after every local area failed
    local = [f for f in AREA_FRACTIONS if f > 0]
    for fraction, strict in [(f, True) for f in local] + [(f, False) for f in local] + [(0.0, True), (0.0, False)]:
        mask = weak_loads(ac, sens, at, fraction)
        if not mask.any():
            continue
        found = shed_weak_area(ac, served, mask, priority, method, strict)
        if found is None:
            continue
        new, state = found
        return new, state, _shed_note(where, served, new, mask, fraction, state)
    return served, None, f"{where}; shedding did not restore a converged AC state in band"


_NOT_LOADING = (f"AC does not converge even at {MIN_ALPHA:.0%} of the island's demand: not a loading problem that "
                "shedding relieves; DC flows reported")


def _near_low_buses(ac: IslandAC, served: np.ndarray, priority: np.ndarray, method: str, at: ACState, where: str):
    """Step 0: ``relieve_voltage``'s answer from the loads at the buses below the band in ``at``, then within
    ``NEAR_HOPS`` branches of them (the first ring whose shedding gives a state in band); None if none does."""
    low = at.vm < VM_MIN_PU
    if not low.any():
        return None
    hops = load_hops(ac, np.asarray(at.buses)[low])
    tried = np.zeros(len(hops), dtype=bool)
    for h in NEAR_HOPS:
        mask = hops <= h
        if not mask.any() or np.array_equal(mask, tried):
            continue
        tried = mask
        found = shed_weak_area(ac, served, mask, priority, method, strict=True)
        if found is not None:
            new, state = found
            near = "at the buses below the band" if h == 0 else \
                f"within {h} branch{'es' if h > 1 else ''} of the buses below the band"
            return new, state, _shed_note(where, served, new, mask, 1.0, state, f"{int(mask.sum())} loads {near}")
    return None
