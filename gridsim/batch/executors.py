"""Where the cases of a batch run: a registry of executors, chosen by ``--scheduler`` / ``--workers``.

- ``local`` (default): a process pool over all cores (``workers``); where workers are forked, the evaluator is
  built once in this process and every worker inherits it (never pickled); with other start methods each
  worker builds its evaluator once (pool initializer). Workers evaluate chunks of cases. A worker process that dies (a crash, ``os._exit``, the OOM killer)
  breaks the pool: the chunks that were in flight are then re-run one case at a time, the case that kills a
  worker again becomes a ``failed`` row, and the run goes on with a fresh pool.
- ``serial``: the same in this process (``workers=1``).
- ``dask:local`` (a ``LocalCluster`` on 127.0.0.1, dashboard off) or ``tcp://HOST:PORT`` (a running Dask
  scheduler), through ``dask.distributed`` (``pip install 'gridsim[dask]'``).

Every executor returns the same records: a case that raises, or runs past ``time_limit_s``, is a record with its
status and message (``failed_record``), never the end of a run. Records reach the caller through ``on_chunk``
(in the calling thread, one call per finished chunk), which is where the store writes them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from gridsim.batch.cases import CASE_COLUMNS, EXTRAS, FAILED, TIMEOUT, CaseSpec, failed_record
from gridsim.errors import GridsimError, did_you_mean

Chunk = list[CaseSpec]
Rows = list[tuple[CaseSpec, dict[str, Any]]]
#: a picklable callable that builds an evaluator (``EvaluatorSpec`` in gridsim.batch.run)
Factory = Callable[[], Any]
OnChunk = Callable[[Rows], None]


class Executor(Protocol):
    def run(self, factory: Factory, chunks: Iterable[Chunk], on_chunk: OnChunk) -> None: ...


# -- evaluating a chunk (the same code in every executor) --------------------------------------------------
class CaseTimeout(BaseException):
    """Raised inside a case that runs past its time limit (a BaseException so that an evaluator's own
    ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with CaseTimeout. Needs SIGALRM and the main thread (serial runs
    and pool workers); elsewhere (Dask worker threads) the limit is not enforced."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _alarm(signum, frame):
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _complete(rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict):
        return failed_record(FAILED, f"the evaluator returned {type(rec).__name__}, not a record")
    out = {c: rec.get(c, float("nan")) for c in CASE_COLUMNS}
    if isinstance(rec.get(EXTRAS), dict):
        out[EXTRAS] = rec[EXTRAS]
    return out


def evaluate_one(evaluator, case: CaseSpec, time_limit_s: float | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        with _time_limit(time_limit_s):
            return _complete(evaluator.evaluate(case))
    except CaseTimeout:
        return failed_record(TIMEOUT, f"stopped after the time limit of {time_limit_s:g} s",
                             time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 -- a batch never dies because one case failed
        return failed_record(FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)


def evaluate_chunk(evaluator, cases: Chunk, time_limit_s: float | None = None) -> list[dict[str, Any]]:
    """One record per case. ``evaluate_many`` when the evaluator has it; if that raises or runs out of time,
    the chunk is evaluated again one case at a time so that only the guilty case becomes a failed row."""
    many = getattr(evaluator, "evaluate_many", None)
    if many is not None and len(cases) > 1:
        try:
            with _time_limit(time_limit_s * len(cases) if time_limit_s else None):
                records = list(many(cases))
            if len(records) == len(cases):
                return [_complete(r) for r in records]
        except CaseTimeout:
            pass
        except Exception:  # noqa: BLE001,S110 -- find the guilty case below
            pass
    return [evaluate_one(evaluator, c, time_limit_s) for c in cases]


# -- worker-side state ---------------------------------------------------------------------------------
class _Unprepared:
    """Stands in for an evaluator that could not be built: every case becomes a failed row with the reason
    (in every executor alike; in a pool, an initializer that raised would look like a crashed worker)."""

    def __init__(self, message: str):
        self.message = message

    def evaluate(self, case: CaseSpec) -> dict[str, Any]:
        return failed_record(FAILED, self.message)


def prepare_evaluator(factory: Factory, net=None):
    """``factory()`` (or ``factory(net)``), or an ``_Unprepared`` stand-in when that raises."""
    try:
        return factory() if net is None else factory(net)
    except Exception as exc:  # noqa: BLE001
        return _Unprepared(f"preparing the evaluator failed: {type(exc).__name__}: {exc}")


_WORKER: dict[str, Any] = {}


def _init_worker(factory: Factory, time_limit_s: float | None, net=None, evaluator=None) -> None:
    """Pool initializer: use the parent's prepared evaluator when it came along with the fork, else build the
    evaluator once per worker process (on ``net`` when the parent's prepared network came along)."""
    _WORKER["limit"] = time_limit_s
    _WORKER["evaluator"] = evaluator if evaluator is not None else prepare_evaluator(factory, net)


def _pool_chunk(cases: Chunk) -> list[dict[str, Any]]:
    return evaluate_chunk(_WORKER["evaluator"], cases, _WORKER["limit"])


_THREAD = threading.local()


def _dask_chunk(factory: Factory, key: str, cases: Chunk, time_limit_s: float | None) -> list[dict[str, Any]]:
    """A Dask task: the evaluator is built once per worker thread (keyed by the run) and reused."""
    cache = getattr(_THREAD, "evaluators", None)
    if cache is None:
        cache = _THREAD.evaluators = {}
    if key not in cache:
        cache.clear()
        cache[key] = prepare_evaluator(factory)
    return evaluate_chunk(cache[key], cases, time_limit_s)


# -- executors -----------------------------------------------------------------------------------------
class SerialExecutor:
    """Every chunk in this process, one after another."""

    def __init__(self, time_limit_s: float | None = None, evaluator=None):
        self.time_limit_s = time_limit_s
        self.evaluator = evaluator      # a ready evaluator (optional): saves building it again

    def run(self, factory: Factory, chunks: Iterable[Chunk], on_chunk: OnChunk) -> None:
        evaluator = self.evaluator if self.evaluator is not None else prepare_evaluator(factory)
        for chunk in chunks:
            on_chunk(list(zip(chunk, evaluate_chunk(evaluator, chunk, self.time_limit_s))))


DIED = "the worker process died while evaluating this case (a crash, os._exit or out of memory)"


def _mp_context():
    """``fork`` (instant workers that share the parent's imports) when this process has no other thread,
    else ``forkserver`` (forking a process with threads can deadlock the child)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["gridsim.batch.executors", "gridsim.simulate"])
        return ctx
    return multiprocessing.get_context("spawn")


class LocalExecutor:
    """A process pool on this machine; chunks are submitted a few at a time (so that a crash leaves only those
    in doubt and progress is steady)."""

    def __init__(self, workers: int, time_limit_s: float | None = None, net=None):
        self.workers = workers
        self.time_limit_s = time_limit_s
        self.net = net      # the prepared network (optional): forked workers inherit it instead of building it
        self.evaluator = None   # built here (on ``net``) before the first fork; every forked worker inherits it

    def _forked_evaluator(self, factory: Factory):
        """The evaluator forked workers inherit, built once in this process: a pool's wall time is then the
        evaluation, not N workers each preparing the model (~0.5-1 s for the fast AC evaluator). Pools made
        again after a crash fork from the same, never-used evaluator."""
        if self.evaluator is None:
            self.evaluator = prepare_evaluator(factory, self.net)
        return self.evaluator

    def _pool(self, factory: Factory, workers: int) -> ProcessPoolExecutor:
        ctx = _mp_context()
        if ctx.get_start_method() == "fork":
            self._forked_evaluator(factory)
            ctx = _mp_context()     # preparing it may have started a thread: then no fork after all
        fork = ctx.get_start_method() == "fork"       # never pickled: other start methods build per worker
        initargs = (factory, self.time_limit_s, self.net if fork else None, self.evaluator if fork else None)
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=initargs)

    def run(self, factory: Factory, chunks: Iterable[Chunk], on_chunk: OnChunk) -> None:
        queue = deque(chunks)
        while queue:
            with self._pool(factory, min(self.workers, len(queue))) as pool:
                in_doubt = _pump(pool, queue, on_chunk, 2 * self.workers)
            if in_doubt:
                self._one_by_one([case for chunk in in_doubt for case in chunk], factory, on_chunk)

    def _one_by_one(self, cases: list[CaseSpec], factory: Factory, on_chunk: OnChunk) -> None:
        """Cases that were in flight when a worker died: each alone on a one-worker pool; the case that kills
        its worker is recorded as failed."""
        queue = deque([case] for case in cases)
        while queue:
            with self._pool(factory, 1) as pool:
                in_doubt = _pump(pool, queue, on_chunk, 1)
            for (case,) in in_doubt:
                on_chunk([(case, failed_record(FAILED, DIED))])


def _pump(pool: ProcessPoolExecutor, queue: deque, on_chunk: OnChunk, max_in_flight: int) -> list[Chunk]:
    """Run queued chunks on ``pool`` until the queue is empty or the pool breaks; return the chunks that were
    in flight when it broke (their results are unknown)."""
    in_flight: dict[Future, Chunk] = {}
    broken: list[Chunk] = []
    while (queue or in_flight) and not broken:
        while queue and len(in_flight) < max_in_flight:
            chunk = queue.popleft()
            try:
                in_flight[pool.submit(_pool_chunk, chunk)] = chunk
            except BrokenProcessPool:
                queue.appendleft(chunk)
                break
        if not in_flight:
            break
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for fut in done:
            chunk = in_flight.pop(fut)
            try:
                records = fut.result()
            except BrokenProcessPool:
                broken.append(chunk)
                continue
            on_chunk(list(zip(chunk, records)))
    return broken + list(in_flight.values())


class DaskExecutor:
    """Chunks as tasks on a Dask distributed cluster: a LocalCluster (``address=None``) or a scheduler."""

    def __init__(self, address: str | None, workers: int, time_limit_s: float | None = None):
        self.address, self.workers, self.time_limit_s = address, workers, time_limit_s

    @contextlib.contextmanager
    def _client(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise GridsimError("--scheduler dask:… needs Dask: pip install 'gridsim[dask]'") from exc
        if self.address is None:
            with LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster, Client(cluster) as client:
                yield client
            return
        try:
            client = Client(self.address, timeout=20)
        except (OSError, TimeoutError) as exc:
            raise GridsimError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        with client:
            yield client

    def run(self, factory: Factory, chunks: Iterable[Chunk], on_chunk: OnChunk) -> None:
        from distributed import as_completed

        key = f"{id(factory)}-{time.time_ns()}"
        with self._client() as client:
            submit = lambda ch: client.submit(_dask_chunk, factory, key, ch, self.time_limit_s, pure=False)  # noqa: E731
            futures = {submit(chunk): chunk for chunk in chunks}
            pending = as_completed(list(futures))
            for fut in pending:
                chunk = futures.pop(fut)
                if fut.status == "finished":
                    on_chunk(list(zip(chunk, fut.result())))
                elif len(chunk) > 1:          # a worker died or the task failed: find the guilty case alone
                    for case in chunk:
                        single = submit([case])
                        futures[single] = [case]
                        pending.add(single)
                else:
                    on_chunk([(chunk[0], failed_record(FAILED, f"Dask task failed: {fut.exception()!r}"[:500]))])


# -- the registry ------------------------------------------------------------------------------------------
def _dask(rest: str, workers: int, limit: float | None) -> DaskExecutor:
    if rest == "local":
        return DaskExecutor(None, workers, limit)
    if "://" in rest:
        return DaskExecutor(rest, workers, limit)
    raise GridsimError(f"unknown Dask scheduler 'dask:{rest}': expected dask:local or tcp://HOST:PORT")


#: scheduler scheme -> factory(rest of the scheduler text, workers, time limit)
EXECUTORS: dict[str, Callable[[str, int, float | None], Executor]] = {
    "local": lambda rest, workers, limit: LocalExecutor(workers, limit),
    "serial": lambda rest, workers, limit: SerialExecutor(limit),
    "dask": _dask,
    "tcp": lambda rest, workers, limit: DaskExecutor(f"tcp:{rest}", workers, limit),
    "tls": lambda rest, workers, limit: DaskExecutor(f"tls:{rest}", workers, limit),
}


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def make_executor(scheduler: str | None = None, workers: int | None = None,
                  time_limit_s: float | None = None) -> Executor:
    """The executor for ``--scheduler``/``--workers``: default ``local`` on every core, ``serial`` for one
    worker."""
    if workers is not None and workers < 1:
        raise GridsimError(f"--workers must be at least 1, got {workers}")
    n = workers or default_workers()
    if scheduler is None:
        scheduler = "serial" if n == 1 else "local"
    scheme, _, rest = scheduler.partition(":")
    if scheme not in EXECUTORS:
        raise GridsimError(f"unknown scheduler '{scheduler}': expected local, serial, dask:local or "
                           f"tcp://HOST:PORT{did_you_mean(scheme, EXECUTORS)}")
    return EXECUTORS[scheme](rest, n, time_limit_s)
