"""Pure functions of a Result: invariants every result must satisfy, and headline figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.results import CAUSES, Result


class InvariantError(AssertionError):
    """A result breaks the accounting identity (a bug in gridsim, never bad input)."""


def check_invariants(result: Result, tol_mw: float = 1e-6) -> None:
    """served + unserved == demand per load, island, region and in total; unserved >= 0 and split exactly
    by cause; dead islands serve nothing; the summary agrees with the tables. Raises InvariantError."""
    problems: list[str] = []
    loads = result.loads
    cause_sum = loads[[f"unserved_{c}_mw" for c in CAUSES]].sum(axis=1)

    def close(a, b) -> np.ndarray:
        return np.isclose(np.asarray(a, float), np.asarray(b, float), rtol=0.0, atol=tol_mw)

    for what, df in (("load", loads), ("region", result.regions), ("island", result.islands)):
        bad = ~close(df["served_mw"] + df["unserved_mw"], df["demand_mw"])
        if bad.any():
            problems.append(f"served + unserved != demand for {what}s {list(df.index[bad])[:5]}")
        for col in ("demand_mw", "served_mw", "unserved_mw"):
            if (df[col] < -tol_mw).any() or df[col].isna().any():
                problems.append(f"negative or NaN {col} for some {what}s")
    if (loads[[f"unserved_{c}_mw" for c in CAUSES]] < -tol_mw).to_numpy().any():
        problems.append("negative unserved by cause")
    if not close(cause_sum, loads["unserved_mw"]).all():
        problems.append("unserved by cause does not add up to unserved per load")
    if (loads["served_mw"] > loads["demand_mw"] + tol_mw).any():
        problems.append("a load is served more than its demand")
    dead = result.islands.index[~result.islands["energised"].astype(bool)]
    if (loads.loc[loads["island"].isin(dead) | (loads["island"] < 0), "served_mw"] > tol_mw).any():
        problems.append("a load on a dead island or destroyed bus is served")
    for name, table_total in (("region", result.regions), ("load", loads)):
        for col in ("demand_mw", "served_mw", "unserved_mw"):
            if not close(table_total[col].sum(), result.summary[col]):
                problems.append(f"summary {col} != sum over {name}s")
    problems += _power_checks(result, tol_mw)
    by_cause = result.summary["unserved_by_cause_mw"]
    if not close(sum(by_cause.values()), result.summary["unserved_mw"]):
        problems.append("summary unserved_by_cause_mw does not add up to unserved_mw")
    if problems:
        raise InvariantError("; ".join(problems))


#: tolerance of the power checks: a unit's output over its capacity, and generation against served + losses
POWER_TOL_MW = 0.1


def _power_checks(result: Result, tol_mw: float) -> list[str]:
    """No unit above its available capacity; per energised island, generation == served + losses (AC) or
    == served (DC), from the reported tables: a state reported is a solved state."""
    problems = []
    gens, isl = result.generators, result.islands
    if len(gens) and "available_mw" in gens:
        over = gens[gens["p_mw"] > gens["available_mw"] + POWER_TOL_MW]
        if len(over):
            problems.append(f"units above their available capacity: {list(over.index[:5])}")
    if not {"generation_mw", "losses_mw"} <= set(isl.columns):
        return problems
    served = result.loads.groupby("island")["served_mw"].sum()
    for i, row in isl.iterrows():
        if not bool(row["energised"]) or row["status"] in ("diverged", "dead") or int(i) < 0:
            continue
        ac = result.summary.get("solver") == "ac" and row["status"] in ("converged", "violated")
        expect = float(served.get(i, 0.0)) + (float(row["losses_mw"]) if ac else 0.0)
        if abs(float(row["generation_mw"]) - expect) > max(POWER_TOL_MW, 1e-6 * expect):
            problems.append(f"island {i}: generation {row['generation_mw']:.3f} MW != served + losses "
                            f"{expect:.3f} MW (a reported state that was not solved)")
    return problems


def top_unserved_loads(result: Result, n: int = 10) -> pd.DataFrame:
    """The ``n`` loads with the most unserved demand."""
    df = result.loads[result.loads["unserved_mw"] > 1e-9]
    return df.sort_values("unserved_mw", ascending=False).head(n)
