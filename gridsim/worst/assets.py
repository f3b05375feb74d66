"""The assets an attacker may hit, as masks on the batch engine's prepared model.

An ``Asset`` is one outage item (``{substation: "Kalynivsk"}``, ``{branch: 15}``, ...) resolved once with
``PreparedModel.masks`` (the same names, errors and meaning as ``simulate()``): the model branches, units and
buses it takes out. An attack is a set of assets; its masks are the union of theirs (``attack_masks``).

Kinds (``WORST_KINDS``): ``line`` is every line *and* transformer (both are branches of the DC model; on
MATPOWER networks the ``line`` names already cover the transformers), ``substation``, ``plant``, and ``mixed``
(all of them). Assets that would change nothing (a unit of 0 MW, a branch the scenario already took out) and
duplicates (the same branches reached under two names) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridsim.batch.cases import CaseSpec, outage_models
from gridsim.batch.model import CaseMasks
from gridsim.batch.state import MIN_CAPACITY_MW
from gridsim.errors import GridsimError, did_you_mean

#: search kind -> the ranking kinds (``gridsim.batch.rank.RANK_KINDS``) whose assets it may hit
WORST_KINDS: dict[str, tuple[str, ...]] = {
    "line": ("line", "transformer"),
    "substation": ("substation",),
    "plant": ("plant",),
    "mixed": ("line", "transformer", "substation", "plant"),
}


@dataclass(frozen=True, eq=False)
class Asset:
    """One asset: its label (what outputs call it), its ranking kind, its outage item and its masks."""

    label: str
    kind: str
    item: dict
    masks: CaseMasks

    @property
    def branches(self) -> np.ndarray:
        return self.masks.branch_out

    @property
    def gens(self) -> np.ndarray:
        return self.masks.gen_out


def check_worst_kind(kind: str) -> str:
    if kind not in WORST_KINDS:
        raise GridsimError(f"unknown asset kind '{kind}': expected one of {', '.join(WORST_KINDS)}"
                           f"{did_you_mean(kind, WORST_KINDS)}")
    return kind


def catalogue(pm, kind: str) -> list[Asset]:
    """Every asset of ``kind`` that changes something on the prepared model ``pm``, in the network's order."""
    from gridsim.batch.rank import asset_names, outage_items

    check_worst_kind(kind)
    live_gen = pm.gen_on & (pm.gen_cap > MIN_CAPACITY_MW)
    out: list[Asset] = []
    seen: set[tuple] = set()
    mixed = kind == "mixed"
    for rank_kind in WORST_KINDS[kind]:
        names = asset_names(pm.base, rank_kind)
        items = outage_items(pm.base, rank_kind, names)
        if rank_kind in ("line", "transformer"):
            items.update(_branch_rows(pm.base, items))
        for name, item in items.items():
            masks = pm.masks(outage_models(CaseSpec(name, (item,))))
            gens = masks.gen_out[live_gen[masks.gen_out]]
            if not (len(masks.branch_out) or len(gens) or len(masks.bus_dead)):
                continue
            key = (tuple(masks.branch_out), tuple(gens), tuple(masks.bus_dead))
            if key in seen:
                continue
            seen.add(key)
            label = f"{'line' if rank_kind == 'transformer' else rank_kind}: {name}" if mixed else name
            out.append(Asset(label, rank_kind, item, masks))
    return out


def _branch_rows(net, items: dict[str, dict]) -> dict[str, dict]:
    """On MATPOWER networks, ``{branch: row}`` for every named line or transformer: the same element as its
    name (``gridsim.networks.naming`` matches MATPOWER names by their row), resolved from the batch engine's
    row table instead of a search by name (about 10 ms a name on case2000)."""
    out: dict[str, dict] = {}
    for table in ("trafo", "line"):       # the line table wins where both have the name
        df = net[table]
        if "mp_branch_row" not in df.columns:
            continue
        for name, row in zip(df["name"].astype(str), df["mp_branch_row"]):
            if name in items and row == row and "branch" not in items[name]:
                out[name] = {"branch": int(row)}
    return out


def attack_masks(assets: list[Asset] | tuple[Asset, ...]) -> CaseMasks:
    """The masks of losing every asset of ``assets`` together."""
    def union(field: str) -> np.ndarray:
        parts = [getattr(a.masks, field) for a in assets]
        return np.unique(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)

    return CaseMasks(union("branch_out"), union("bus_dead"), union("gen_out"), None, union("load_out"))


def resolve_protected(assets: list[Asset], names, kind: str) -> set[int]:
    """Positions in ``assets`` of the protected names (labels, or plain names where one asset has it);
    GridsimError with a did-you-mean for a name that is none of them."""
    by_label = {a.label: i for i, a in enumerate(assets)}
    plain: dict[str, list[int]] = {}
    for i, a in enumerate(assets):
        plain.setdefault(a.label.split(": ", 1)[-1], []).append(i)
    out: set[int] = set()
    for name in names:
        name = str(name)
        if name in by_label:
            out.add(by_label[name])
        elif len(plain.get(name, ())) == 1:
            out.add(plain[name][0])
        elif name in plain:
            raise GridsimError(f"protected asset '{name}' is ambiguous in a {kind} search: write one of "
                               + ", ".join(assets[i].label for i in plain[name]))
        else:
            raise GridsimError(f"unknown protected asset '{name}': no {kind} asset of that name"
                               f"{did_you_mean(name, list(by_label))}")
    return out


def element_names(pm, asset: Asset) -> tuple[list[str], list[str]]:
    """(branch names, bus names) of what ``asset`` takes out, as a Result names them (for the maps): the
    branches it hits (lines, transformers; none for a substation, whose buses are named instead) and the buses of
    the substations or units it hits."""
    net, dc = pm.damaged, pm.dc
    bus_name = net.bus["name"].astype(str) if "name" in net.bus else net.bus.index.astype(str)
    buses: list[str] = []
    if len(asset.masks.bus_dead):
        pp = net.bus.index[np.isin(pm.bus_lookup[net.bus.index.to_numpy()], asset.masks.bus_dead)]
        buses = bus_name.loc[pp].tolist()
        return [], buses
    if len(asset.masks.gen_out):
        buses = bus_name.loc[net.gen["bus"].to_numpy()[asset.masks.gen_out]].drop_duplicates().tolist()
    branches = [str(net[str(dc.branch_kind[p])].at[int(dc.branch_index[p]), "name"])
                for p in asset.masks.branch_out if str(dc.branch_kind[p]) in ("line", "trafo")]
    return branches, buses
