"""Branch ratings a scenario chooses (rate_a / rate_b / rate_c, times an emergency factor), and branch
loading against them. pandapower reports loading against its own rating (``max_i_ka`` for lines, ``sn_mva``
for transformers); gridsim rescales that to the scenario's rating so every figure uses one limit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridsim.solvers.dcmodel import _nominal_rating


@dataclass
class Ratings:
    rating: str
    emergency_factor: float
    line_scale: pd.Series     # pandapower loading % x scale = loading % of the scenario's limit
    trafo_scale: pd.Series

    @classmethod
    def of(cls, net, rating: str = "rate_a", emergency_factor: float = 1.0) -> "Ratings":
        scales = {}
        for table in ("line", "trafo"):
            df = net[table]
            nominal = _nominal_rating(net, table) if len(df) else np.zeros(0)
            col = f"{rating}_mva"
            chosen = df[col].to_numpy(dtype=float) if col in df.columns else nominal
            chosen = np.where(np.isnan(chosen) | (chosen <= 0), nominal, chosen) * emergency_factor
            scale = np.divide(nominal, chosen, out=np.ones(len(df)), where=chosen > 0)
            scales[table] = pd.Series(scale, index=df.index)
        return cls(rating, float(emergency_factor), scales["line"], scales["trafo"])

    def loading(self, flow) -> tuple[pd.Series, pd.Series]:
        """(line, trafo) loading in % of the scenario's limit."""
        return (flow.line_loading_percent * self.line_scale.reindex(flow.line_loading_percent.index),
                flow.trafo_loading_percent * self.trafo_scale.reindex(flow.trafo_loading_percent.index))

    def overloaded(self, flow, threshold_percent: float = 100.0) -> list[tuple[str, int, float]]:
        """(table, index, loading %) of every branch loaded above ``threshold_percent``, worst first."""
        out = []
        for table, s in zip(("line", "trafo"), self.loading(flow)):
            hit = s[s > threshold_percent + 1e-6]
            out += [(table, int(i), float(v)) for i, v in hit.items()]
        return sorted(out, key=lambda r: -r[2])
