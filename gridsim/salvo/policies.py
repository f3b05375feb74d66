"""Many interception policies on common random numbers: the same draws (same seed, same draw indices), each
policy deciding only which weapons get through (``gridsim.salvo.sampling``), so a difference between two
policies is theirs and not the noise's.

``PolicyEvaluator`` samples the draws once and evaluates each policy's damage through the batch engine; a
damage state (the outage items of a draw) is evaluated once however many policies or draws lead to it.
``compare_policies`` runs variants of a scenario (``--compare interception.default.cruise=0.6,0.75,0.9``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.errors import ScenarioError
from gridsim.salvo.evaluators import ens_of
from gridsim.salvo.montecarlo import DEFAULT_DRAWS, DEFAULT_SEED, evaluator_for
from gridsim.salvo.plan import AttackPlan, plan_attack
from gridsim.salvo.sampling import draw_hits, sample_draw
from gridsim.salvo.stats import describe

#: the loss vectors a policy evaluation returns
LOSSES = ("unserved_mw", "critical_unserved_mw", "ens_mwh")


class PolicyEvaluator:
    """The draws of one scenario, sampled once; ``losses(intercept)`` evaluates one policy on them."""

    def __init__(self, scenario, *, draws: int | None = None, seed: int | None = None, workers: int | None = None,
                 scheduler: str | None = None, net=None, progress: Callable[[int, int], None] | None = None):
        from gridsim.batch.run import prepare_checked

        self.scenario = scenario
        self.n = int(draws or scenario.draws or DEFAULT_DRAWS)
        self.seed = int(seed if seed is not None else scenario.seed if scenario.seed is not None else DEFAULT_SEED)
        self.workers, self.scheduler, self.progress = workers, scheduler, progress
        self.base = prepare_checked(scenario, net)
        self.plan = plan_attack(scenario, self.base)
        self._samples: dict[bytes, list] = {}
        self.samples = self.samples_of(self.plan)
        self.cache: dict[str, dict[str, float]] = {}
        self.evaluated = 0

    def samples_of(self, plan: AttackPlan) -> list:
        """The draws for a plan: the same uniforms (seed, draw) for every plan; sampled again only when the
        weapons, target shares or damage ranges differ (their decisions depend on them)."""
        key = b"".join(np.ascontiguousarray(a).tobytes() for a in (plan.weapon_type, plan.target_p,
                                                                   plan.derate_range, plan.repair_range))
        if key not in self._samples:
            self._samples[key] = [sample_draw(plan, self.seed, d) for d in range(self.n)]
        return self._samples[key]

    def plan_of(self, scenario) -> AttackPlan:
        return plan_attack(scenario, self.base)

    def losses(self, intercept: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self.many([intercept])[0]

    def many(self, intercepts: list, plans: list[AttackPlan] | None = None) -> list[dict[str, np.ndarray]]:
        """Loss vectors (one value per draw) for each policy; every new damage state in one batch run."""
        plans = plans or [self.plan] * len(intercepts)
        keys_per_policy = []
        todo: dict[str, tuple] = {}
        for plan, p in zip(plans, intercepts):
            keys = []
            for s in self.samples_of(plan):
                items = draw_hits(plan, s, p).outage_items(plan)
                key = _key(items)
                keys.append(key)
                if key not in self.cache:
                    todo[key] = items
            keys_per_policy.append(keys)
        self._evaluate(todo)
        return [{c: np.array([self.cache[k][c] for k in keys]) for c in LOSSES} for keys in keys_per_policy]

    def _evaluate(self, todo: dict[str, tuple]) -> None:
        from gridsim.batch.cases import CaseSpec
        from gridsim.batch.run import run_cases

        if not todo:
            return
        cases = [CaseSpec(k, items) for k, items in todo.items()]
        df = run_cases(self.scenario, cases, evaluator=evaluator_for(self.scenario), workers=self.workers,
                       scheduler=self.scheduler, label="salvo-policies", net=self.base, progress=self.progress)
        bad = df[df["status"].isin(("failed", "timeout", "died"))]
        if len(bad):
            raise ScenarioError(f"{len(bad)} damage state(s) could not be evaluated, e.g. "
                                f"{bad['message'].iloc[0][:200]}")
        for k, row in df.iterrows():
            self.cache[str(k)] = {"unserved_mw": float(row["unserved_mw"]),
                                  "critical_unserved_mw": float(row["critical_unserved_mw"]),
                                  "ens_mwh": ens_of(row["extras"], row["message"])}
        self.evaluated += len(cases)


def _key(items: tuple) -> str:
    text = json.dumps(items, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


# -- --compare ---------------------------------------------------------------------------------------------------
def parse_compare(spec: str) -> tuple[str, list[float]]:
    """``interception.default.cruise=0.6,0.75,0.9`` -> (path, values)."""
    path, sep, values = spec.partition("=")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not sep or not path.strip() or not numbers or len(numbers) > 20:
        raise ScenarioError(f"--compare: expected KEY=V1,V2,... (1 to 20 numbers), like "
                            f"interception.default.cruise=0.6,0.75,0.9; got {spec[:60]!r}")
    return path.strip(), numbers


def with_value(scenario, path: str, value: float):
    """A copy of ``scenario`` with ``attack.<path>`` set to ``value`` (re-validated like a scenario file)."""
    from pydantic import ValidationError

    from gridsim.scenario.attack import Attack

    data = scenario.attack.model_dump()
    parts = path.removeprefix("attack.").split(".")
    node: Any = data
    try:
        for part in parts[:-1]:
            node = _step(node, part)
        last = parts[-1]
        if isinstance(node, list):
            node = _step(node, last)
            last = "count"
        if not isinstance(node, dict) or last not in node:
            raise KeyError(last)
        node[last] = int(value) if last == "count" else value
        attack = Attack.model_validate(data)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        detail = exc.errors()[0]["ctx"].get("message", "") if isinstance(exc, ValidationError) and \
            exc.errors()[0].get("ctx") else str(exc)
        raise ScenarioError(f"--compare: cannot set attack.{path.removeprefix('attack.')} to {value:g} "
                            f"({detail[:200]}); e.g. interception.default.cruise=0.6,0.9 or "
                            "weapons.drone=30,60") from None
    copy = scenario.model_copy(update={"attack": attack})
    return copy


def _step(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node[part]
    if isinstance(node, list):
        if part.isdigit():
            return node[int(part)]
        for item in node:      # weapons.<type>
            if isinstance(item, dict) and item.get("type") == part:
                return item
    raise KeyError(part)


#: what scenario files compared with ``--compare a.yaml,b.yaml`` must share (the state every draw starts from)
SHARED = ("network", "load_level", "solver", "shedding", "response", "rating", "emergency_factor",
          "trip_threshold_pct", "availability", "timeline", "baseline")


def is_file_list(spec: str) -> bool:
    return all(p.strip().lower().endswith((".yaml", ".yml")) for p in spec.split(",") if p.strip())


def file_variants(scenario, spec: str, network_root=None) -> list[tuple[str, object]]:
    """``--compare a.yaml,b.yaml``: the scenario and each file as variants; each file needs an attack and the
    same grid state (``SHARED`` keys and outages) as the scenario, so that only the attack differs."""
    from gridsim.scenario import load_scenario

    out = [(scenario.source.stem if scenario.source else scenario.name, scenario)]
    for path in [p.strip() for p in spec.split(",") if p.strip()][:20]:
        other = load_scenario(path, network_root=network_root)
        differ = [k for k in SHARED if getattr(other, k) != getattr(scenario, k)]
        if other.attack is None or differ or [o.yaml_form() for o in other.outages] != \
                [o.yaml_form() for o in scenario.outages]:
            detail = f": it differs in {', '.join(differ)}" if differ else ""
            raise ScenarioError(f"--compare {path}: a compared scenario needs an attack block and the same grid "
                                f"state as {out[0][0]} (network, settings, outages){detail}")
        out.append((Path(path).stem, other))
    return out


def compare_policies(scenario, path: str, values: list[float] | None = None, **kwargs) -> tuple[pd.DataFrame, dict]:
    """Statistics of each variant on common random numbers, and the loss vectors (label -> array). ``path``
    is an attack key (``interception.default.cruise``) set to each of ``values``, or with ``values=None`` a
    comma-separated list of scenario files (see ``file_variants``)."""
    if values is None:
        variants = file_variants(scenario, path, scenario.network_root)
    else:
        variants = [(f"{path.rsplit('.', 1)[-1]}={v:g}", with_value(scenario, path, v)) for v in values]
    pe = PolicyEvaluator(scenario, **kwargs)
    plans = [pe.plan_of(sc) for _, sc in variants]
    results = pe.many([p.intercept for p in plans], plans)
    metric = "ens_mwh" if scenario.timeline is not None else "unserved_mw"
    rows, losses = [], {}
    ref = results[0][metric]
    for (label, _), res in zip(variants, results):
        d = describe(res[metric])
        diff = res[metric] - ref
        rows.append({"variant": label, **{f"{metric}_{k}": v for k, v in d.items()},
                     "critical_unserved_mw_mean": float(np.nanmean(res["critical_unserved_mw"])),
                     f"difference_vs_{variants[0][0]}": float(diff.mean()),
                     "difference_sem": float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else np.nan})
        losses[label] = res[metric]
    return pd.DataFrame(rows), losses
