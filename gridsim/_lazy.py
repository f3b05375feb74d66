"""Lazy public names for a package: ``__getattr__``/``__dir__`` that import a name's module on first use, so
importing the package (``import gridsim``, ``gridsim schema``) does not pay for pandapower, scipy or matplotlib."""

from __future__ import annotations

import importlib
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
