"""What a solved state violates, per energised island: the optimal response acts on it, and whatever is
still violated at the end is named in the island's status (``violated``) and in the notes.

Checked: AC convergence (an island on the DC fallback), the voltage band (AC only), branch ratings (lines,
2- and 3-winding transformers, at the scenario's rating), and every unit's available capacity (the slack
takes the losses in AC and may be pushed past it). An overloaded line whose active flow is well below its
rating is overloaded by reactive current (its own charging, typically, when lightly loaded at high
voltage): shedding load does not relieve it, reactive measures do, so it is listed apart (``charging``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridsim.solvers.dcmodel import _nominal_rating
from gridsim.solvers.powerflow import SLACK_TOLERANCE_MW
from gridsim.solvers.voltage import VM_MAX_PU, VM_MIN_PU

#: an overloaded line whose |P| is below this fraction of its rating is overloaded by reactive current
REACTIVE_SHARE = 0.7


@dataclass
class Problems:
    diverged: bool = False                 # AC was asked for and this island fell back to DC
    voltage_low: bool = False
    voltage_high: bool = False
    overloads: list = field(default_factory=list)   # (table, index, loading %) relieved by active power
    charging: list = field(default_factory=list)    # (table, index, loading %) relieved by reactive measures
    slack_short_mw: float = 0.0            # largest output above available capacity among its units
    min_vm_pu: float = np.nan
    max_vm_pu: float = np.nan

    def __bool__(self) -> bool:
        return bool(self.diverged or self.voltage_low or self.voltage_high or self.overloads or self.charging
                    or self.slack_short_mw > 0)


def diagnose(net, islands, flow, ratings, bal=None) -> dict[int, Problems]:
    """Island id -> Problems, for every energised island with at least one violation."""
    out: dict[int, Problems] = {}
    branch_island = _branch_islands(net, islands)
    over = ratings.overloaded(flow)
    over += _trafo3w_overloads(flow)
    active = _active_share(net, ratings, flow)
    for isl in islands.energised:
        p = Problems()
        status = flow.status.get(isl.id)
        if flow.ac and status in ("fallback-dc", "diverged"):
            p.diverged = True
        if flow.ac and status in ("converged", "violated"):
            vm = flow.vm_pu.loc[isl.buses].dropna()
            if len(vm):
                p.min_vm_pu, p.max_vm_pu = float(vm.min()), float(vm.max())
                p.voltage_low = p.min_vm_pu < VM_MIN_PU - 1e-9
                p.voltage_high = p.max_vm_pu > VM_MAX_PU + 1e-9
        for table, idx, loading in over:
            if branch_island.get((table, idx)) != isl.id:
                continue
            reactive = flow.ac and table == "line" and active.get(idx, 1.0) < REACTIVE_SHARE
            (p.charging if reactive else p.overloads).append((table, idx, loading))
        if len(isl.gens):
            excess = flow.gen_p_mw.loc[isl.gens].to_numpy(float) - net.gen.loc[isl.gens, "max_p_mw"].to_numpy(float)
            worst = float(np.nanmax(excess)) if len(excess) else 0.0
            p.slack_short_mw = worst if worst > SLACK_TOLERANCE_MW else 0.0
        if p:
            out[isl.id] = p
    return out


def describe(net, p: Problems, limit: int = 5) -> str:
    """The violations in words, naming branches and extreme voltages."""
    parts = []
    if p.diverged:
        parts.append("AC power flow does not converge (DC flows reported)")
    if p.voltage_low:
        parts.append(f"lowest voltage {p.min_vm_pu:.3f} p.u. (< {VM_MIN_PU})")
    if p.voltage_high:
        parts.append(f"highest voltage {p.max_vm_pu:.3f} p.u. (> {VM_MAX_PU})")
    branches = sorted(p.overloads + p.charging, key=lambda r: -r[2])
    if branches:
        named = ", ".join(f"{_name(net, t, i)} {v:.1f} %" for t, i, v in branches[:limit])
        more = f" and {len(branches) - limit} more" if len(branches) > limit else ""
        parts.append(f"overloaded: {named}{more}")
    if p.slack_short_mw > 0:
        parts.append(f"a unit {p.slack_short_mw:.1f} MW above its available capacity")
    return "; ".join(parts)


def record_violations(net, islands, flow, problems: dict[int, Problems], notes: list[str]) -> None:
    """Mark each island still violating limits ``violated`` (if it converged) and name what in its message
    and in the notes."""
    for isl_id, p in problems.items():
        text = describe(net, p)
        if flow.status.get(isl_id) == "converged":
            flow.status[isl_id] = "violated"
        flow.messages[isl_id] = (flow.messages.get(isl_id, "") + "; " if flow.messages.get(isl_id) else "") + text
        notes.append(f"island {isl_id}: limits still violated after the response: {text}")


def _name(net, table: str, idx: int) -> str:
    name = net[table].at[idx, "name"] if "name" in net[table].columns else None
    return str(name) if isinstance(name, str) and name else f"{table} {idx}"


def _branch_islands(net, islands) -> dict:
    out = {}
    for table, col in (("line", "from_bus"), ("trafo", "hv_bus"), ("trafo3w", "hv_bus")):
        if table in net and len(net[table]):
            isl = islands.bus_island.reindex(net[table][col]).to_numpy()
            out.update({(table, int(i)): int(k) for i, k in zip(net[table].index, isl)})
    return out


def _trafo3w_overloads(flow) -> list:
    s = flow.trafo3w_loading_percent
    if s is None or not len(s):
        return []
    hit = s[s > 100.0 + 1e-6]
    return [("trafo3w", int(i), float(v)) for i, v in hit.items()]


def _active_share(net, ratings, flow) -> dict[int, float]:
    """Per line: |P from| as a fraction of its rating at the scenario's limit (MW / MVA)."""
    if not len(net.line):
        return {}
    rating = _nominal_rating(net, "line") / ratings.line_scale.reindex(net.line.index).to_numpy()
    p = flow.line_p_from_mw.reindex(net.line.index).abs().to_numpy()
    share = np.divide(p, rating, out=np.ones(len(p)), where=rating > 0)
    return dict(zip(net.line.index.astype(int), share))
