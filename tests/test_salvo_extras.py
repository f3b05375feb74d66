"""Salvo draws carry their extras (energy not served, unserved MW by region) in the batch record's ``extras``,
not in its message; rows of a store written before the extras column are still read (legacy message tags)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("highspy")

CASE24 = str(Path(__file__).parent / "data" / "pglib" / "pglib_opf_case24_ieee_rts.m")


def test_fast_salvo_record_has_regions_in_extras_not_in_message():
    from gridsim.batch.cases import CaseSpec
    from gridsim.batch.run import as_scenario
    from gridsim.batch.store import extras_text
    from gridsim.salvo.evaluators import SalvoFastEvaluator, regions_of

    sc = as_scenario(CASE24, solver="dc").model_copy(update={"response": "optimal"})
    ev = SalvoFastEvaluator(sc)
    recs = ev.evaluate_many([CaseSpec("a", ({"branch": 23}, {"branch": 27}, {"line": "11-13"})),
                             CaseSpec("b", ({"branch": 1},))])
    for rec in recs:
        assert "regions_mw=" not in rec["message"]
        regions = regions_of(extras_text(rec["extras"]), rec["message"])
        assert sum(regions.values()) == pytest.approx(rec["unserved_mw"], abs=1e-2)
    assert recs[0]["unserved_mw"] > 1.0


def test_readers_take_extras_first_and_legacy_messages_of_old_stores():
    from gridsim.salvo.evaluators import ens_of, regions_of

    extras = json.dumps({"ens_mwh": 12.5, "regions_mw": {"A": 1.0}})
    assert ens_of(extras, "ens_mwh=99.0; x") == 12.5 and regions_of(extras) == {"A": 1.0}
    legacy = 'regions_mw={"A":2.5,"B":0.0}; ens_mwh=7.25; strike times ...'
    assert ens_of("{}", legacy) == 7.25 and regions_of(None, legacy) == {"A": 2.5, "B": 0.0}
    assert math.isnan(ens_of("{}", "")) and regions_of("{}", "") == {}


def test_salvo_report_counts_are_integers():
    """The region table's count of target assets is a count (it printed 2.0 before)."""
    import pandas as pd

    from gridsim.report.salvo_report import REGION_COLS, _table

    df = pd.DataFrame([{"region": "North", "target_assets": 2.0, "hit_probability": 0.25,
                        "unserved_mw_mean": 1234.56, "unserved_mw_sem": 7.0, "unserved_mw_p95": 2000.0}])
    html = _table(df, REGION_COLS)
    assert '<td class="n">2</td>' in html and "2.0<" not in html
    assert '<td class="n">1,234.6</td>' in html and '<td class="n">25.0 %</td>' in html
