"""Bus coordinates in km for maps of an imported network (``x_km``, ``y_km`` of the data contract).

``bus_xy(net)`` takes pandapower ``geo`` where at least half the buses have it: lon/lat is projected to km
(equirectangular) when it looks geographic, other coordinates are scaled into a ``LAYOUT_BOX_KM`` box, and a
bus without ``geo`` sits at the mean of its placed neighbours. Otherwise it generates a deterministic layout:
pivot MDS on hop distances per connected component, the components shelf-packed into the box.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

LAYOUT_BOX_KM = 1000.0  #: generated layouts and non-geographic coordinates fill a box this wide


def _edges(net) -> tuple[np.ndarray, np.ndarray]:
    """Bus positions (0..n-1) at both ends of every branch and bus-bus switch, whatever its status."""
    pairs = [(net.line, "from_bus", "to_bus"), (net.trafo, "hv_bus", "lv_bus"), (net.trafo3w, "hv_bus", "mv_bus"),
             (net.trafo3w, "hv_bus", "lv_bus"), (net.impedance, "from_bus", "to_bus"),
             (net.dcline, "from_bus", "to_bus"), (net.switch[net.switch["et"] == "b"], "bus", "element")]
    pairs = [(t, x, y) for t, x, y in pairs if x in t and y in t]
    a = np.concatenate([t[x].to_numpy(dtype=np.int64) for t, x, _ in pairs] + [np.zeros(0, np.int64)])
    b = np.concatenate([t[y].to_numpy(dtype=np.int64) for t, _, y in pairs] + [np.zeros(0, np.int64)])
    i, j = net.bus.index.get_indexer(a), net.bus.index.get_indexer(b)
    ok = (i >= 0) & (j >= 0) & (i != j)
    return i[ok], j[ok]


def bus_xy(net) -> np.ndarray:
    """Bus coordinates in km: from ``geo`` when at least half the buses have it, else a generated layout."""
    n = len(net.bus)
    i, j = _edges(net)
    xy = _geo_points(net.bus)
    found = ~np.isnan(xy[:, 0])
    if n == 0 or found.sum() < max(1, n / 2):
        return _box(_layout(n, i, j))
    lon, lat = xy[found, 0], xy[found, 1]
    if (np.abs(lon).max() <= 180 and np.abs(lat).max() <= 90 and np.ptp(lon) <= 20 and np.ptp(lat) <= 20
            and abs(lat.mean()) >= 15):  # looks like lon/lat: project to km (equirectangular)
        xy = np.c_[(xy[:, 0] - lon.min()) * 111.32 * math.cos(math.radians(lat.mean())),
                   (xy[:, 1] - lat.min()) * 110.574]
    else:
        xy = _box(xy)
    for _ in range(10):  # a bus without geo sits at the mean of its placed neighbours
        if found.all():
            break
        ends = np.r_[i, j], np.r_[j, i]
        use = found[ends[1]] & ~found[ends[0]]
        cnt = np.bincount(ends[0][use], minlength=n)
        for k in (0, 1):
            s = np.bincount(ends[0][use], weights=xy[ends[1][use], k], minlength=n)
            xy[cnt > 0, k] = s[cnt > 0] / cnt[cnt > 0]
        found = found | (cnt > 0)
    xy[~found] = np.nanmean(xy[found], axis=0)
    return xy


def _geo_points(bus: pd.DataFrame) -> np.ndarray:
    xy = np.full((len(bus), 2), np.nan)
    for k, g in enumerate(bus["geo"] if "geo" in bus else []):
        try:
            c = (json.loads(g) if isinstance(g, str) else g)["coordinates"]
            xy[k] = float(c[0]), float(c[1])
        except (TypeError, KeyError, IndexError, ValueError):
            continue
    return xy


def _box(xy: np.ndarray) -> np.ndarray:
    """Shift to the origin and scale the larger side to ``LAYOUT_BOX_KM``."""
    xy = xy - np.nanmin(xy, axis=0) if len(xy) else xy
    span = np.nanmax(xy) if len(xy) else 0.0
    return xy * (LAYOUT_BOX_KM / span) if span > 0 else xy


def _layout(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Deterministic layout: pivot MDS on hop distances per connected component, components shelf-packed."""
    adj = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adj = adj + adj.T
    n_comp, label = connected_components(adj, directed=False)
    members = sorted((np.flatnonzero(label == c) for c in range(n_comp)), key=lambda m: (-len(m), m[0]))
    parts = [_pivot_mds(adj[m][:, m]) for m in members]
    area = sum((np.ptp(p[:, 0]) + 2) * (np.ptp(p[:, 1]) + 2) for p in parts)
    width = max(max(np.ptp(p[:, 0]) + 2 for p in parts), math.sqrt(area))
    xy, x0, y0, row_h = np.zeros((n, 2)), 0.0, 0.0, 0.0
    for m, p in zip(members, parts):
        w, h = np.ptp(p[:, 0]) + 2, np.ptp(p[:, 1]) + 2
        if x0 > 0 and x0 + w > width:
            x0, y0, row_h = 0.0, y0 - row_h, 0.0
        xy[m] = p - p.min(axis=0) + [x0 + 1, y0 - h + 1]
        x0, row_h = x0 + w, max(row_h, h)
    return xy


def _pivot_mds(adj, pivots: int = 50) -> np.ndarray:
    """Brandes & Pich pivot MDS: 2-D coordinates, scaled so the median edge is 1 long."""
    n = adj.shape[0]
    if n <= 2:
        return np.c_[np.arange(n, dtype=float), np.zeros(n)]
    k = min(pivots, n)
    dist, nearest, p = np.empty((k, n)), np.full(n, np.inf), 0
    for row in range(k):
        dist[row] = shortest_path(adj, unweighted=True, indices=p)
        nearest = np.minimum(nearest, dist[row])
        p = int(np.argmax(nearest))
    d2 = dist.T**2
    c = -0.5 * (d2 - d2.mean(axis=0) - d2.mean(axis=1)[:, None] + d2.mean())
    _, vec = np.linalg.eigh(c.T @ c)  # top right-singular vectors; a k x k problem is far cheaper than svd
    xy = c @ vec[:, [-1, -2]]
    xy *= np.where(xy[np.abs(xy).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)  # fix the SVD's sign freedom
    a, b = coo_matrix(adj).row, coo_matrix(adj).col
    edge = np.median(np.hypot(*(xy[a] - xy[b]).T)) if len(a) else 1.0
    return xy / edge if edge > 0 else xy
