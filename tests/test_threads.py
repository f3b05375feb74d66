"""One BLAS thread per process (gridsim._threads): the command line, the tests and the benchmarks ask for it before
numpy loads; a count the user set is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECK = ("import os, sys; from gridsim._threads import one_blas_thread; took = one_blas_thread(); "
         "import numpy; print(took, os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)")


def _run(code: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**clean, **env}).stdout.split()


def test_one_blas_thread_before_numpy_unless_the_user_chose():
    assert _run(CHECK) == ["True", "1", "True"]
    assert _run(CHECK, OPENBLAS_NUM_THREADS="2") == ["True", "2", "True"]
    late = "import numpy; " + CHECK
    assert _run(late) == ["False", "None", "True"]


def test_the_command_line_asks_for_one_blas_thread_before_numpy_loads():
    code = ("import sys; from gridsim.cli import main; rc = main(['validate', sys.argv[1]]); import os; "
            "print('RESULT', rc, os.environ.get('OPENBLAS_NUM_THREADS'))")
    scenario = str(Path(__file__).parent.parent / "scenarios" / "dnipro-hydro-strike.yaml")
    out = subprocess.run([sys.executable, "-c", code, scenario], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}).stdout.split()
    assert out[-3:] == ["RESULT", "0", "1"]


def test_this_test_process_asked_for_one_thread():
    assert os.environ.get("OPENBLAS_NUM_THREADS") is not None
