"""Every single-branch case of one base state at once: post-outage flows, islands, balance and overloads as columns.

The common batch shape (a ranking of lines, an N-1 sweep) is many cases that each take out one branch of the same
prepared state. Their numbers need no per-case Python:

- a branch whose loss keeps its component whole leaves the base islands and balance as they are; its flows are
  the base flows corrected by that branch's LODF column (``DCFlow.single_outage_flows``), all cases in one
  matrix product;
- a bridge (``gridsim.batch.state.Bridges``, found once per model) cuts the subtree below it off its component.
  The demand, capacity and live units of the subtree are differences of prefix sums along the search's preorder,
  so both new islands' balance is a handful of vector operations for all bridges together; their units are
  re-dispatched in merit order with one ``merit_dispatch_grouped`` over (case, island) groups, and the flows
  are the base flows plus those of the injections that changed (``DCFlow.injection_flows``). A bridge carries nothing once both sides balance
  (``gridsim.batch.dcflow``), as in ``FastDCEvaluator.evaluate_masks``.

A new island short of capacity sheds as ``gridsim.balance.shed_to`` does (proportional shedding: vectorised too);
with priority shedding, or where the base island already was short, that bridge's column is balanced by
``gridsim.batch.state.case_state`` (one case; rare). What the screen leaves
to the evaluator is the optimal response of the cases with an overload (the LP). tests/test_batch_screen.py keeps the columns equal to the one-case
path on every single branch of the test networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridsim.batch.model import CaseMasks
from gridsim.batch.state import case_state, merit_dispatch_grouped

#: an island sheds when its capacity is below its demand by more than this (``gridsim.balance.shed_to``)
SHORT_MW = 1e-12
_NONE = np.zeros(0, dtype=np.int64)


@dataclass
class ScreenColumns:
    """Per case (one column per branch screened): the record's numbers before any optimal response."""

    branches: np.ndarray      # model branch out
    flows: np.ndarray         # branches x cases (MW), after the outage, with the case's balance
    n_over: np.ndarray        # overloaded energised branches
    n_islands: np.ndarray
    isolated: np.ndarray      # MW lost in dead islands
    deficit: np.ndarray       # MW shed by the balance (short islands)
    critical: np.ndarray      # critical (priority 1) MW unserved
    dead: np.ndarray          # no energised island left
    split: np.ndarray         # the branch is a bridge
    per_case: np.ndarray      # not finished here (a singular outage that is no bridge: never seen; one-case path)


class SingleBranchScreen:
    """The screen of one evaluator's base state (``FastDCEvaluator``: model, flow, base state and flows)."""

    def __init__(self, pm):
        n_gen, n_load = len(pm.gen_bus), len(pm.load_bus)
        self.cg = sp.csr_matrix((np.ones(n_gen), (pm.gen_bus, np.arange(n_gen))), shape=(pm.n_bus, n_gen))
        self.cl = sp.csr_matrix((np.ones(n_load), (pm.load_bus, np.arange(n_load))), shape=(pm.n_bus, n_load))

    def run(self, ev, branches: np.ndarray) -> ScreenColumns:
        """The columns of the cases that take out ``branches`` (one each) from ``ev``'s base state."""
        base, pm = ev.base, ev.model
        n = len(branches)
        flows, singular = ev.flow.single_outage_flows(ev.base_flow, branches)
        split = ev.bridges.is_bridge[branches]
        over = ev.base_live[:, None] & (np.abs(flows) > ev._threshold[:, None])
        over[branches, np.arange(n)] = False
        unserved = base.isolated + base.deficit
        cols = ScreenColumns(
            branches=branches, flows=flows, n_over=over.sum(axis=0), n_islands=np.full(n, base.n_islands),
            isolated=np.full(n, float(base.isolated.sum())), deficit=np.full(n, float(base.deficit.sum())),
            critical=np.full(n, float(unserved[pm.critical].sum())), dead=np.full(n, not base.energised.any()),
            split=split, per_case=singular & ~split)
        if split.any():
            self._bridges(ev, cols, np.flatnonzero(split))
        return cols

    def _bridges(self, ev, cols: ScreenColumns, js: np.ndarray) -> None:
        """Fill the columns ``js`` (bridges) with their two islands' balance, flows and overloads."""
        base, br = ev.base, ev.bridges
        outside = base.labels[br.child[cols.branches[js]]] < 0     # a bridge to a bus out of service
        cols.per_case[js[outside]] = True
        js = js[~outside]
        if not len(js):
            return
        k = cols.branches[js]
        lo, hi = br.cut_range(k)
        comp = base.labels[br.child[k]]                         # the component the bridge cuts
        per_bus = _per_bus(ev.model, base)
        sums = _subtree_sums(per_bus, br.order, lo, hi)
        whole = _island_sums(per_bus, base, comp)
        cut_on, rest_on = sums["live"] > 0, whole["live"] - sums["live"] > 0
        d_cut, d_rest = sums["demand"], whole["demand"] - sums["demand"]
        c_cut, c_rest = sums["cap"], whole["cap"] - sums["cap"]
        cut_short, rest_short = cut_on & (c_cut < d_cut - SHORT_MW), rest_on & (c_rest < d_rest - SHORT_MW)
        # a short side sheds by gridsim.balance.shed_to: proportional here (each load keeps capacity / demand of
        # it); priority shedding, or a component short before the split, through case_state below
        one_case = (base.energised[comp] & (base.cap_island[comp] < base.demand_island[comp] - SHORT_MW)) | (
            (cut_short | rest_short) & (ev.method != "proportional"))
        cut_keep = np.where(cut_on, np.divide(c_cut, d_cut, out=np.ones(len(js)), where=cut_short), 0.0)
        rest_keep = np.where(rest_on, np.divide(c_rest, d_rest, out=np.ones(len(js)), where=rest_short), 0.0)
        c_crit, r_crit = sums["critical"], whole["critical"] - sums["critical"]
        cols.isolated[js] += np.where(cut_on, 0.0, d_cut) + np.where(rest_on, 0.0, d_rest)
        cols.deficit[js] += np.where(cut_short, d_cut - c_cut, 0.0) + np.where(rest_short, d_rest - c_rest, 0.0)
        cols.critical[js] += c_crit * (1.0 - cut_keep) + r_crit * (1.0 - rest_keep)
        cols.n_islands[js] = br.case_n_islands[k]
        n_energised = int(base.energised.sum()) - base.energised[comp].astype(int) + cut_on + rest_on
        cols.dead[js] = n_energised == 0
        targets = np.column_stack([np.minimum(d_rest, c_rest), np.minimum(d_cut, c_cut)])   # (rest, cut) per case
        flows, live = self._flows(ev, k, comp, lo, hi, targets, (cut_keep, rest_keep))
        cols.flows[:, js] = flows
        cols.n_over[js] = (live & (np.abs(flows) > ev._threshold[:, None])).sum(axis=0)
        for j in js[one_case]:
            self._balanced(ev, cols, j)

    @staticmethod
    def _balanced(ev, cols: ScreenColumns, j: int) -> None:
        """Column ``j`` of a bridge that leaves an island short of capacity: its balance sheds by the rules of
        ``gridsim.balance`` (``case_state``, one case), its flows and overloads from that balance."""
        k = int(cols.branches[j])
        masks = CaseMasks(np.array([k]), _NONE, _NONE, None, _NONE)
        st = case_state(ev.model, masks, ev.method, islands=ev.bridges.islands(k))
        flows = ev.flow.flows(st.injection(ev.model))
        flows[k] = 0.0
        unserved = st.isolated + st.deficit
        cols.flows[:, j] = flows
        cols.n_over[j] = int((st.branch_energised(ev.model) & (np.abs(flows) > ev._threshold)).sum())
        cols.isolated[j], cols.deficit[j] = st.isolated.sum(), st.deficit.sum()
        cols.critical[j] = unserved[ev.model.critical].sum()
        cols.dead[j] = not st.energised.any()

    def _flows(self, ev, k, comp, lo, hi, targets, keep):
        """Flows (branches x bridges) with each bridge's two islands balanced (units dispatched to ``targets``,
        loads keeping the fraction ``keep`` of their side: 0 dead, 1 whole), and which branches are live."""
        cut_keep, rest_keep = keep
        cut_on, rest_on = cut_keep > 0, rest_keep > 0
        pm, base = ev.model, ev.base
        tin = ev.bridges.tin
        nb = len(k)
        cases = np.arange(nb)
        # units of the cut component: merit order within (case, side) groups
        gi, gj = np.nonzero(base.gen_island[:, None] == comp[None, :])
        g_cut = (tin[pm.gen_bus[gi]] >= lo[gj]) & (tin[pm.gen_bus[gi]] < hi[gj])
        group = 2 * gj + g_cut
        part = merit_dispatch_grouped(base.gen_cap[gi], pm.gen_cost[gi], group, targets.ravel())
        dispatch = np.repeat(base.dispatch[:, None], nb, axis=1)
        dispatch[gi, gj] = part
        # loads of the cut component: lost where their side has no live unit
        li, lj = np.nonzero(base.load_island[:, None] == comp[None, :])
        l_cut = (tin[pm.load_bus[li]] >= lo[lj]) & (tin[pm.load_bus[li]] < hi[lj])
        served = np.repeat(base.served[:, None], nb, axis=1)
        served[li, lj] = base.served[li] * np.where(l_cut, cut_keep[lj], rest_keep[lj])
        change = np.asarray(self.cg @ (dispatch - base.dispatch[:, None]) - self.cl @ (served - base.served[:, None]))
        flows = ev.base_flow[:, None] + ev.flow.injection_flows(change)
        flows[k, cases] = 0.0
        # live branches: those of the cut component energised on their own side
        b_in = base.labels[pm.br_from][:, None] == comp[None, :]
        b_cut = (tin[pm.br_from][:, None] >= lo[None, :]) & (tin[pm.br_from][:, None] < hi[None, :])
        live = np.where(b_in, np.where(b_cut, cut_on[None, :], rest_on[None, :]), ev.base_live[:, None])
        live[k, cases] = False
        return flows, live


def _per_bus(pm, base) -> dict[str, np.ndarray]:
    """Per model bus, from the base balance: demand served there, its critical part, live capacity and units."""
    served = base.load_island >= 0
    live = base.gen_island >= 0
    nb = pm.n_bus
    return {"demand": np.bincount(pm.load_bus, weights=np.where(served, pm.demand, 0.0), minlength=nb),
            "critical": np.bincount(pm.load_bus, weights=np.where(served & pm.critical, pm.demand, 0.0),
                                    minlength=nb),
            "cap": np.bincount(pm.gen_bus, weights=np.where(live, base.gen_cap, 0.0), minlength=nb),
            "live": np.bincount(pm.gen_bus, weights=live.astype(float), minlength=nb)}


def _subtree_sums(per_bus: dict, order: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
    """Each quantity summed over each subtree (buses ``order[lo:hi]``, preorder ranges)."""
    out = {}
    for name, values in per_bus.items():
        prefix = np.concatenate([[0.0], np.cumsum(values[order])])
        out[name] = prefix[hi] - prefix[lo]
    return out


def _island_sums(per_bus: dict, base, comp: np.ndarray) -> dict[str, np.ndarray]:
    """Each quantity summed over the base island ``comp`` of each case."""
    lab, n_lab = np.maximum(base.labels, 0), len(base.energised)
    inside = base.labels >= 0
    return {name: np.bincount(lab, weights=np.where(inside, values, 0.0), minlength=n_lab)[comp]
            for name, values in per_bus.items()}
