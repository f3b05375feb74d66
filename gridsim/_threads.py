"""One BLAS thread per gridsim process, unless the user chose otherwise.

numpy and scipy ship OpenBLAS, which starts a thread per core and splits even small products and solves
between them. gridsim's matrices are small or sparse, and its batch modes already use every core with one
process each, so those threads only wait for each other: on a 2-core machine with other work running, measured
(CPU seconds, one process): the built-in grid's 348 x 348 inverse 0.20 s with the default threads vs 0.005 s on
one; case2000's bus PTDF from its sparse factors 2.5 s vs 0.14 s; the README's main job 3.9-4.4 s vs 3.5 s.

``one_blas_thread()`` sets ``OPENBLAS_NUM_THREADS`` (and MKL's) to 1 where they are unset, before numpy is
loaded (BLAS reads them once, at load): the command line calls it first, so do the benchmarks and the tests.
Code that imports gridsim as a library after numpy keeps the user's BLAS threads; set the variable before
starting Python to get the same effect.
"""

from __future__ import annotations

import os
import sys

#: the variables BLAS libraries read for their thread count (OpenBLAS: numpy's and scipy's wheels; MKL: conda)
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> bool:
    """Ask for one BLAS thread where the user set no count; True if it can still take effect (numpy not loaded)."""
    if "numpy" in sys.modules:
        return False
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    return True
