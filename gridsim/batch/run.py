"""``run_cases``: many cases on one scenario's state, on any executor, into the result store, as a DataFrame.

>>> from gridsim.batch import CaseSpec, run_cases
>>> cases = [CaseSpec(f"line:{n}", ({"line": n},)) for n in ("1-2", "1-3")]
>>> df = run_cases("tests/data/pglib/pglib_opf_case24_ieee_rts.m", cases, workers=1)
>>> df["unserved_mw"]
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim.batch.cases import CaseSpec
from gridsim.batch.executors import (LocalExecutor, SerialExecutor, default_workers, make_executor,
                                     prepare_evaluator)
from gridsim.batch.store import ResultStore
from gridsim.errors import GridsimError, did_you_mean

#: progress(done, total): cases finished (those a resumed run skips count as done) out of all cases
Progress = Callable[[int, int], None]


def _simulate_evaluator():
    from gridsim.batch.cases import SimulateEvaluator

    return SimulateEvaluator


def _fast_evaluator():
    if importlib.util.find_spec("gridsim.batch.fast") is None:
        raise GridsimError("the fast evaluator (gridsim.batch.fast) is not available in this installation; "
                           "use evaluator 'simulate' or 'auto'")
    return importlib.import_module("gridsim.batch.fast").FastDCEvaluator


def _fast_ac_evaluator():
    return importlib.import_module("gridsim.batch.fast_ac").FastACEvaluator


#: evaluator name -> loader of its class ``cls(scenario, net=None)``
EVALUATORS: dict[str, Callable[[], type]] = {"simulate": _simulate_evaluator, "fast": _fast_evaluator,
                                             "fast-ac": _fast_ac_evaluator}
#: what the fast evaluator covers: DC flows with the optimal LP or no response
FAST_SOLVERS, FAST_RESPONSES = ("dc",), ("optimal", "none")
#: what the fast AC evaluator covers (with lightsim2grid installed): AC with the optimal response
FAST_AC_SOLVERS, FAST_AC_RESPONSES = ("ac",), ("optimal",)


def choose_evaluator(name, scenario):
    """``auto``: the fast evaluator (DC, or AC where lightsim2grid is installed) where it covers the scenario,
    else ``simulate``; ``fast`` on an AC scenario is ``fast-ac``. A class (``cls(scenario, net=None)`` with
    ``evaluate(case)``) is used as it is."""
    if isinstance(name, type):
        return name
    response = getattr(scenario, "response", "none")
    ac = scenario.solver in FAST_AC_SOLVERS
    if name == "auto":
        if ac:
            fits = response in FAST_AC_RESPONSES and importlib.util.find_spec("lightsim2grid") is not None
            return "fast-ac" if fits else "simulate"
        fits = scenario.solver in FAST_SOLVERS and response in FAST_RESPONSES
        return "fast" if fits and importlib.util.find_spec("gridsim.batch.fast") is not None else "simulate"
    if name == "fast" and ac:
        return "fast-ac"
    if name not in EVALUATORS:
        raise GridsimError(f"unknown evaluator '{name}': expected auto, {', '.join(EVALUATORS)}"
                           f"{did_you_mean(name, EVALUATORS)}")
    return name


@dataclass(frozen=True)
class EvaluatorSpec:
    """A picklable recipe for an evaluator, sent to each worker, which calls it once."""

    name: str | type         # a key of EVALUATORS, or an evaluator class (importable, for worker processes)
    scenario: Any
    fallback: str | None = None   # with ``auto``: used where the chosen evaluator does not cover the network

    def __call__(self, net=None):
        cls = self.name if isinstance(self.name, type) else EVALUATORS[self.name]()
        try:
            return cls(self.scenario, net)
        except ValueError:       # the fast engine refuses what it does not model (sgen, storage, trafo3w, ...)
            if self.fallback is None:
                raise
            return EVALUATORS[self.fallback]()(self.scenario, net)


def as_scenario(network_or_scenario, solver: str | None = None):
    """A Scenario from a Scenario, a scenario file (.yaml/.yml) or a network spec (``dnipro-like``,
    ``pandapower:case24``, a .m/.json path), which becomes a scenario with no outages and the defaults;
    ``solver`` overrides the scenario's."""
    from gridsim.scenario import Scenario, load_scenario

    if isinstance(network_or_scenario, Scenario):
        scenario = network_or_scenario
    else:
        spec = str(network_or_scenario)
        if Path(spec).suffix.lower() in (".yaml", ".yml"):
            scenario = load_scenario(spec)
        else:
            path = Path(spec)
            network = str(path.resolve()) if path.suffix.lower() in (".m", ".json") and path.exists() else spec
            scenario = Scenario(name=f"{Path(spec).stem if path.suffix else spec} (base case)", network=network)
    if solver is not None and solver != scenario.solver:
        if solver not in ("ac", "dc"):
            raise GridsimError(f"unknown solver '{solver}': expected ac or dc")
        scenario = _with(scenario, solver=solver)
    return scenario


def _with(scenario, **update):
    """A copy with ``update`` that keeps where the scenario came from (relative network paths)."""
    copy = scenario.model_copy(update=update)
    copy._base_dir = scenario.base_dir
    return copy


def prepare_checked(scenario, net=None):
    """The scenario's prepared network, after checking that it builds and that every outage of the scenario
    names something in it (a ScenarioError or NetworkError here is bad input, not a failed case)."""
    from gridsim.outages import resolve_outage
    from gridsim.simulate import prepare_network

    base = prepare_network(scenario, net)
    for i, outage in enumerate(scenario.outages):
        resolve_outage(base, outage, i, scenario.source)
    return base


def run_identity(scenario, label: str) -> dict[str, Any]:
    """What makes two runs the same run (stored in results.sqlite; ``--resume`` requires it to match): the
    scenario's settings that differ from the defaults, without the line numbers of its outages in the file, and
    the engine that computes the cases (gridsim's version, a digest of its code and data, the libraries a
    network is built and solved with: ``gridsim.networks.index``), so that a resumed run never mixes cases
    computed by two versions of the engine."""
    dump = scenario.model_dump(mode="json", exclude_defaults=True, exclude={"outages": {"__all__": {"line"}}})
    from gridsim.networks.index import engine_key

    return {"kind": label, "network": str(scenario.network), "scenario": dump, "engine": engine_key()}


class Prepared:
    """Keeps the evaluator one ``run_cases`` call built in this process (serial, or the parent of forked
    workers) for the next call given the same ``Prepared``, recipe and ``net`` object (``rank_assets``: the
    singles, then the pairs), so that the model is prepared once, not once per call."""

    def __init__(self):
        self._key: tuple | None = None
        self._evaluator = None

    def get(self, spec: EvaluatorSpec, net):
        if net is None or self._key is None or self._key[1] is not net or self._key[0] != spec:
            return None
        return self._evaluator

    def keep(self, spec: EvaluatorSpec, net, evaluator) -> None:
        if net is not None and evaluator is not None:
            self._key, self._evaluator = (spec, net), evaluator


def _ready(executor, spec: EvaluatorSpec, base, net, prepared: Prepared | None) -> None:
    """Hand the executor what this process has: the evaluator (serial: built now; local pool: the one an earlier
    call built, else the pool builds it before forking) and the prepared network."""
    known = prepared.get(spec, net) if prepared is not None else None
    if isinstance(executor, SerialExecutor):
        executor.evaluator = known if known is not None else prepare_evaluator(spec, base)
    elif isinstance(executor, LocalExecutor):
        executor.net, executor.evaluator = base, known


def chunk_size_for(n_cases: int, workers: int) -> int:
    """About 16 chunks per worker (steady progress, little lost to a kill), 1..256 cases each."""
    return max(1, min(256, math.ceil(n_cases / (16 * max(workers, 1)))))


def run_cases(network_or_scenario, cases: Iterable[CaseSpec], *, evaluator: str | type = "auto",
              workers: int | None = None, scheduler: str | None = None, out_dir: str | Path | None = None,
              resume: bool = False, progress: Progress | None = None, chunk_size: int | None = None,
              time_limit_s: float | None = None, label: str = "cases", net=None,
              prepared: Prepared | None = None) -> pd.DataFrame:
    """Evaluate every case on top of the scenario's state; return one row per case (index ``case_id``, in the
    order given; columns ``outages`` (JSON) and ``CASE_COLUMNS``).

    ``evaluator``: ``auto`` (the fast DC evaluator, or the fast AC one with lightsim2grid, where it covers the
    scenario, else ``simulate``), ``fast``, ``fast-ac``, ``simulate``, or an evaluator class. ``workers``/``scheduler``: see ``gridsim.batch.executors``
    (default: a process pool over every core; ``workers=1`` runs in this process).

    With ``out_dir`` the rows go to ``out_dir/results.sqlite`` as chunks finish, and ``cases.csv`` (and
    ``cases.parquet`` when pyarrow is installed) are exported from it; ``resume=True`` skips the cases the
    store already holds (refused when the store belongs to another scenario, network or ``label``). A case
    that fails or passes ``time_limit_s`` is a row with its status and message. ``net`` (optional) is the
    scenario's network, already built; with it, ``prepared`` (a ``Prepared``) carries the evaluator built in
    this process over to the next call on the same ``net``.
    """
    scenario = as_scenario(network_or_scenario)
    cases = _unique(cases)
    name = choose_evaluator(evaluator, scenario)
    executor = make_executor(scheduler, workers, time_limit_s)
    base = prepare_checked(scenario, net)
    spec = EvaluatorSpec(name, scenario, fallback="simulate" if evaluator == "auto" and name != "simulate" else None)
    _ready(executor, spec, base, net, prepared)
    path = Path(out_dir) / "results.sqlite" if out_dir is not None else ":memory:"
    with ResultStore(path, run_identity(scenario, label), resume=resume) as store:
        finished = store.finished(cases)
        todo = [c for c in cases if c.case_id not in finished]
        done = len(cases) - len(todo)
        if progress is not None:
            progress(done, len(cases))

        def on_chunk(rows) -> None:
            nonlocal done
            store.write(rows)
            done += len(rows)
            if progress is not None:
                progress(done, len(cases))

        size = chunk_size or chunk_size_for(len(todo), workers or default_workers())
        executor.run(spec, [todo[i:i + size] for i in range(0, len(todo), size)], on_chunk)
        if prepared is not None:
            prepared.keep(spec, net, getattr(executor, "evaluator", None))
        if out_dir is not None:
            export(store, Path(out_dir))
        return store.frame([c.case_id for c in cases])


def export(store: ResultStore, out_dir: Path) -> list[Path]:
    """cases.csv, and cases.parquet when pyarrow is installed, from the store (atomically)."""
    written = [store.export_csv(out_dir / "cases.csv")]
    if importlib.util.find_spec("pyarrow") is not None:
        written.append(store.export_parquet(out_dir / "cases.parquet"))
    return written


def _unique(cases: Iterable[CaseSpec]) -> Sequence[CaseSpec]:
    cases = list(cases)
    seen: set[str] = set()
    for case in cases:
        if not isinstance(case, CaseSpec):
            raise TypeError(f"cases must be CaseSpec objects, got {type(case).__name__}")
        if case.case_id in seen:
            raise GridsimError(f"case id '{case.case_id}' appears twice; every case needs its own id")
        seen.add(case.case_id)
    return cases
