"""A second process that draws some of the report's figures while this one draws the others.

Drawing the figures is most of a report's time (matplotlib: ~1 s for the six figures of a 72-hour timeline) and
it is one thread of Python. ``FigureWorker.start()`` spawns a process (a fresh interpreter: never a fork, which
would copy HiGHS's and the BLAS's threads) that imports the figure code while this process computes; by the time
the report is written it is warm. ``write_report(..., worker=...)`` then shares the figures between the two:
the worker takes them from the most expensive down, this process from the cheapest up, each claiming a figure
before drawing it (a flag under a lock that both processes share), so that each figure is drawn once and neither
process waits for the other more than one figure's time. A worker that is not ready yet takes none; one that
fails or dies leaves its figures to this process. The PNGs are the same bytes either way (tested): the same
``plot`` function draws the same unpickled Result with the same matplotlib.

Used by ``gridsim run`` for scenarios whose report has several figures (timelines, restoration), only where at
least two cores are this process's to use; ``GRIDSIM_FIGURE_PROCESS=0`` turns it off.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterable

#: the figures in the order the worker takes them (most expensive first, measured on the shipped scenarios);
#: this process takes them from the other end
ORDER = ("river.png", "map.png", "timeline.png", "cascade.png", "repairs.png", "orders.png", "heatmap.png",
         "regions.png", "restoration.png")

#: seconds without word from a busy worker before this process draws the figures it claimed
PATIENCE_S = 120.0

_FREE, _OURS, _THEIRS = 0, 1, 2


def wanted() -> bool:
    """Whether a figure process can help here: not turned off, two cores or more for this process, and the
    machine not already busy on all of them (load average of the last minute below the number of cores). With
    one core free of two it costs ~0.15 s (measured: its imports compete with the computation), with two it
    saves ~0.35 s."""
    if os.environ.get("GRIDSIM_FIGURE_PROCESS", "1").strip() in ("0", "no", "off", "false"):
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):        # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cores
    except (AttributeError, OSError):        # Windows
        busy = False
    return cores >= 2 and not busy


class FigureWorker:
    """One spawned process that draws figures on request (see the module's text)."""

    def __init__(self):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._claims = ctx.Array("b", len(ORDER))              # per figure: free, ours, theirs (with its lock)
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self._claims), daemon=True,
                                    name="gridsim-figures")
        self._process.start()
        child.close()
        self._ready = False
        self._job = 0

    @classmethod
    def start(cls) -> FigureWorker | None:
        """A worker where ``wanted()``, else None (also when the process cannot be started)."""
        if not wanted():
            return None
        try:
            return cls()
        except (OSError, ValueError, RuntimeError, ImportError):   # no processes, no semaphores: draw here
            return None

    def ready(self) -> bool:
        """Whether the worker has imported the figure code (without waiting for it)."""
        try:
            while not self._ready and self._process.is_alive() and self._conn.poll(0):
                self._ready = self._conn.recv() == "ready"
        except (EOFError, OSError):
            self._ready = False
        return self._ready and self._process.is_alive()

    def draw(self, names: Iterable[str], result, draw_here: Callable[[str], bytes | None],
             meanwhile: Callable[[], object] = lambda: None) -> dict[str, bytes | None]:
        """Every figure of ``names``, drawn by ``draw_here(name)`` in this process or by the worker: name -> PNG
        bytes (None where the Result has no such figure). ``meanwhile()`` runs here once the worker has the
        Result, before this process draws. Without a ready worker, all here (after ``meanwhile()``)."""
        names = list(names)
        slots = {name: ORDER.index(name) for name in names}
        if not (self.ready() and self._hand_over(result, set(slots.values()))):
            meanwhile()
            return {name: draw_here(name) for name in names}
        meanwhile()
        out: dict[str, bytes | None] = {}
        for name in sorted(names, key=slots.get, reverse=True):          # the cheapest first
            if _claim(self._claims, slots[name], _OURS):
                out[name] = draw_here(name)
        out.update(self._collect({n for n in names if n not in out}))
        for name in names:                 # what the worker failed to draw (or left when it died): here
            if name not in out:
                out[name] = draw_here(name)
        return {name: out[name] for name in names}

    def _hand_over(self, result, free: set[int]) -> bool:
        """Free the slots ``free`` (the others are not asked: the worker passes them over) and send the worker
        the Result of a new job; False if it cannot be sent."""
        _set_claims(self._claims, free)
        self._job += 1
        try:
            self._conn.send_bytes(pickle.dumps((self._job, result), protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError, pickle.PicklingError):
            _set_claims(self._claims, set())
            return False
        return True

    def _collect(self, waiting: set[str]) -> dict[str, bytes | None]:
        """The worker's figures of this job, as it sends them: (job, name, png or None, ok); stops at its
        (job, "done"), when it dies or after ``PATIENCE_S`` without word. Messages of an earlier job (one whose
        caller stopped early on an error) are passed over."""
        got: dict[str, bytes | None] = {}
        last = time.monotonic()
        while waiting and time.monotonic() - last < PATIENCE_S:
            try:
                if not self._conn.poll(0.05):
                    if not self._process.is_alive():
                        break
                    continue
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            last = time.monotonic()
            if message[0] != self._job:
                continue
            if message[1] == "done":
                break
            _, name, png, ok = message
            if ok:
                got[name] = png
            waiting.discard(name)
        return got

    def close(self) -> None:
        """Stop the worker (it exits once the figure it draws, if any, is done) and wait a moment for it; a stuck
        one is terminated."""
        _set_claims(self._claims, set())       # a job left half done (an error here): it takes no more figures
        try:
            self._conn.send_bytes(b"")
        except (OSError, ValueError):
            pass
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2.0)
        self._conn.close()


def _claim(claims, slot: int, who: int) -> bool:
    """Take figure ``slot`` for ``who`` if it is still free (both processes claim through this)."""
    with claims.get_lock():
        if claims[slot] != _FREE:
            return False
        claims[slot] = who
        return True


def _set_claims(claims, free: set[int]) -> None:
    """The slots ``free`` free, every other one taken by this process."""
    with claims.get_lock():
        for i in range(len(ORDER)):
            claims[i] = _FREE if i in free else _OURS


def _serve(conn, claims) -> None:
    """The worker: import the figure code, say "ready", then per (job, Result) claim and draw figures until none
    is free, send each (job, name, png, ok) and (job, "done"). An empty message, or a parent gone, ends it (at
    once: nothing to tidy). Ctrl-C is the parent's to handle (it stops the worker): ignored here, so that an
    interrupted run prints no second traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve_jobs(conn, claims)
    except (EOFError, OSError):        # the parent has gone (killed, or closed the pipe)
        pass
    os._exit(0)


def _serve_jobs(conn, claims) -> None:
    import queue
    import threading

    from gridsim.report.html import draw_figure     # matplotlib and the figure modules: the slow part

    conn.send("ready")
    # figures go out from a thread of their own: a PNG larger than the pipe's buffer would otherwise hold the
    # next figure back until the parent, busy drawing its own, reads it
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def pump():
        try:
            while (message := outbox.get()) is not None:
                conn.send(message)
        except (EOFError, OSError):      # the parent has gone: the main loop ends at its next read
            pass

    threading.Thread(target=pump, daemon=True, name="gridsim-figures-out").start()
    while True:
        payload = conn.recv_bytes()
        if not payload:
            return
        job, result = pickle.loads(payload)
        for slot, name in enumerate(ORDER):
            if not _claim(claims, slot, _THEIRS):
                continue
            try:
                png = draw_figure(name, result)
            except Exception:  # noqa: BLE001 -- the caller draws it again and sees the error itself
                outbox.put((job, name, None, False))
                continue
            outbox.put((job, name, png, True))
        outbox.put((job, "done"))
