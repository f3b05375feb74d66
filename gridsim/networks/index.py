"""The name index: a network's name view (``gridsim.networks.nametables``), built once and kept in the user's
cache folder, so that ``gridsim validate`` resolves a scenario's names without building the network (no
pandapower, pandas or numpy on a cache hit).

``network_names(spec, base_dir, load_level, network_root=...)`` takes the arguments of ``build_network`` and
returns the view of the network it builds: from the cache when the stored key matches, else by building the
network (every error ``build_network`` raises, it raises) and storing the view. The key holds what the network
is made from:

- gridsim's version and the bytes of its code and data (every ``.py`` and ``.json`` file of the package, ~1 MB,
  read in ~10 ms): a built-in grid is built by code that imports other modules (``gridsim.bridges`` plans it
  too), so any change rebuilds rather than a list of files that could miss one;
- the installed numpy, scipy, pandas and pandapower (their dist-info folders: the grid is drawn with them);
- for a network file, the bytes of the file.

Names do not depend on the load level, so it is no part of the key. The cache folder is ``$GRIDSIM_CACHE_DIR``,
else ``$XDG_CACHE_HOME/gridsim``, else ``~/.cache/gridsim``; one file per network (a changed key overwrites
it), written atomically. A missing, unreadable, corrupt or stale file is rebuilt, never an error; a folder
that cannot be written only costs the next run the build.

``gridsim.networks.netcache`` keeps the built network itself in the same folder, under this key plus the load
level (``_identity_and_key``).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from gridsim.errors import NetworkError
from gridsim.limits import MAX_NETWORK_BYTES
from gridsim.networks import BUILTIN_BUILDERS, network_file
from gridsim.networks.nametables import NameTables, name_tables

CACHE_ENV = "GRIDSIM_CACHE_DIR"
_PACKAGE = Path(__file__).resolve().parents[1]
_SOURCE_SUFFIXES = (".py", ".json")
_LIBRARIES = ("numpy", "scipy", "pandas", "pandapower")


def cache_dir() -> Path:
    """Where the name index is kept (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gridsim"


def network_names(spec: str, base_dir: str | Path | None = None, load_level: float = 1.0, *,
                  network_root: str | Path | None = None) -> NameTables:
    """``name_tables(build_network(spec, base_dir, load_level, network_root=network_root))``, from the cache
    when it holds the view for this key."""
    if load_level <= 0:      # build_network's first check, kept for the same message without a build
        raise NetworkError(f"load_level must be positive, got {load_level}")
    identity, key = _identity_and_key(spec, base_dir, network_root)
    path = None if key is None else cache_dir() / f"names-{_digest(identity.encode())[:20]}.json"
    if path is not None:
        cached = _read(path, key)
        if cached is not None:
            return cached
    from gridsim.networks import build_network

    tables = name_tables(build_network(spec, base_dir, load_level, network_root=network_root))
    if path is not None:
        _write(path, key, tables)
    return tables


def engine_key() -> dict[str, str | dict]:
    """What computes the numbers: gridsim's version, a digest of its code and data, the installed libraries
    (part of every cache key here, and of a batch run's identity: ``gridsim.batch.run.run_identity``)."""
    from gridsim import __version__

    return {"gridsim": __version__, "sources": _package_digest(_PACKAGE), "libraries": _libraries()}


def _identity_and_key(spec: str, base_dir, network_root) -> tuple[str, dict | None]:
    """(what the cache file is named after, the key its contents must carry); key None: do not cache (the
    build decides, and raises what it raises)."""
    key = {**engine_key(), "spec": spec}
    if spec in BUILTIN_BUILDERS or spec.startswith("pandapower:"):
        return spec, key
    path = network_file(spec, base_dir, network_root)      # raises what build_network raises for the spec
    try:
        if not path.is_file() or path.stat().st_size > MAX_NETWORK_BYTES:
            return spec, None
        content = _digest(path.read_bytes())
    except OSError:
        return spec, None
    return str(path.resolve()), {**key, "file": content}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def _package_digest(package: Path) -> str:
    """sha256 over the relative path and bytes of every code and data file of the package."""
    h = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in _SOURCE_SUFFIXES and "__pycache__" not in p.parts):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _libraries() -> dict[str, str]:
    """The installed distributions of the libraries a network is built with, by their dist-info folder names
    (``numpy-2.4.6.dist-info``), found without importing them."""
    out = {}
    listings: dict[Path, list[str]] = {}
    for lib in _LIBRARIES:
        spec = find_spec(lib)
        if spec is None or not spec.origin:
            out[lib] = "absent"
            continue
        site = Path(spec.origin).parent.parent
        if site not in listings:
            try:
                listings[site] = os.listdir(site)
            except OSError:
                listings[site] = []
        infos = sorted(e for e in listings[site] if e.lower().startswith(f"{lib}-") and e.endswith(".dist-info"))
        out[lib] = ",".join(infos) or spec.origin
    return out


def _read(path: Path, key: dict) -> NameTables | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return NameTables.from_dict(data["view"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write(path: Path, key: dict, tables: NameTables) -> None:
    from gridsim._atomic import atomic_write_text

    try:
        atomic_write_text(path, json.dumps({"key": key, "view": tables.to_dict()}, separators=(",", ":")))
    except (OSError, ValueError):
        pass     # a cache that cannot be written costs the next run a build, nothing more
