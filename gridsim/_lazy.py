"""Lazy imports. ``lazy_exports``: public names of a package imported on first use, so importing the package
(``import gridsim``, ``gridsim schema``) does not pay for pandapower, scipy or matplotlib. ``defer_package_init``:
the command line's start-up does not pay for the parts of third-party packages it never uses (``DEFERRED``)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable


def lazy_exports(package: str, public: dict[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """(``__getattr__``, ``__dir__``) for ``package``: ``public`` maps each name to the module defining it; a
    name once imported is stored in ``namespace`` (the package's globals) so later look-ups skip the hook."""

    def __getattr__(name: str):
        module = public.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__


# -- deferred package initialisation (the command line's start-up) -------------------------------------------
class _DeferredPackage(types.ModuleType):
    """A package whose ``__init__`` has not run yet: its submodules import as usual (``__path__`` is set), and
    the first look-up of anything else, or a listing of its names (``dir``, ``inspect.getmembers``), runs the
    ``__init__`` (then the module is an ordinary module)."""

    def __getattr__(self, name: str):
        if not _run_deferred_init(self):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return getattr(self, name)

    def __dir__(self) -> list[str]:
        _run_deferred_init(self)
        return dir(self)


def _run_deferred_init(module: types.ModuleType) -> bool:
    """Run a deferred package's ``__init__`` now; False if it has run already."""
    loader = module.__dict__.pop("_gridsim_deferred_loader", None)
    if loader is None:
        return False
    module.__class__ = types.ModuleType
    loader.exec_module(module)
    return True


class _DeferredLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self.loader
        module.__dict__["_gridsim_deferred_loader"] = self.loader
        module.__class__ = _DeferredPackage


class _DeferredFinder(importlib.abc.MetaPathFinder):
    def __init__(self, names: frozenset[str]):
        self.names = names

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        if spec.submodule_search_locations is None:     # a plain module: the standard library's lazy loader
            spec.loader = importlib.util.LazyLoader(spec.loader)
        else:
            spec.loader = _DeferredLoader(spec.loader)
        return spec


#: packages whose ``__init__`` the command line runs on first use (``defer_package_init``). pandapower's own
#: ``__init__`` imports every subpackage (control with scipy.interpolate, deepdiff, networkx and the JSON I/O;
#: plotting with matplotlib.pyplot; estimation with scipy.stats; the toolbox, converters, time series...): gridsim
#: imports the pandapower modules it calls (``pandapower.create``, ``pandapower.run``, ``pandapower.auxiliary``,
#: ...), so a run that never reads an attribute of ``pandapower`` itself never runs it. The subpackages are listed
#: too, for when the ``__init__`` does run. scipy clones numpy's namespace (``from numpy import *``), which imports
#: numpy's f2py and testing packages.
DEFERRED = ("pandapower", "pandapower.plotting", "pandapower.estimation", "pandapower.grid_equivalents",
            "pandapower.shortcircuit", "pandapower.timeseries", "pandapower.networks", "pandapower.topology",
            "pandapower.converter", "matplotlib.pyplot", "networkx", "numpy.f2py", "numpy.testing")


def defer_package_init(names=DEFERRED) -> None:
    """Run the ``__init__`` of each named package (not yet imported) on its first use rather than on import.

    For libraries whose top-level ``__init__`` imports every subpackage (pandapower imports its plotting with
    matplotlib.pyplot, state estimation, short-circuit, time series...): a deferred package costs nothing
    until something reads from it; its submodules still import on their own. Importing the package's own
    modules and using them is unchanged, so results are too; only the time of the ``__init__`` moves."""
    todo = frozenset(n for n in names if n not in sys.modules)
    if todo and not any(isinstance(f, _DeferredFinder) and f.names >= todo for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferredFinder(todo))
