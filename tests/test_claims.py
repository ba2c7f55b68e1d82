"""The claims report's statistics and verdicts (evaluation/claims.py) on metrics with known effects."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation import claims as c


def rows(dataset, setting, metric, method, values):
    return [{"dataset": dataset, "setting": setting, "metric": metric, "method": method, "seed": k, "value": v,
             "status": "ok"} for k, v in enumerate(values)]


def test_interval_is_the_paired_t_interval():
    diffs = np.array([0.3, 0.1, 0.25, 0.2])
    comp = c.Comparison("x", diffs)
    mean, lo, hi = comp.interval()
    ref = stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=stats.sem(diffs))
    assert (lo, hi) == pytest.approx(ref) and mean == pytest.approx(diffs.mean())
    assert comp.verdict == "reproduced"
    assert c.Comparison("x", -diffs).verdict == "contradicted"
    assert c.Comparison("x", np.array([0.3, -0.2, 0.1])).verdict == "inconclusive"
    assert c.Comparison("x", np.array([0.3])).verdict == "inconclusive"  # one seed: no interval


def test_claims_read_the_direction_of_each_comparison():
    m = pd.DataFrame(
        rows("two_circle", "clean", "hsr", "joint_w", [0.8, 0.82, 0.79]) +
        rows("two_circle", "clean", "hsr", "wgan_gp", [0.5, 0.52, 0.51]) +
        rows("two_circle", "clean", "kld", "joint_w", [1.0, 1.1, 1.05]) +
        rows("two_circle", "clean", "kld", "dem", [2.0, 2.1, 2.05]) +  # lower KLD for joint_w: claimed direction
        rows("two_circle", "clean", "auc", "joint_w", [0.6, 0.61, 0.62]) +
        rows("two_circle", "clean", "auc", "dem", [0.9, 0.91, 0.92]))  # lower AUC for joint_w: contradicted
    found = c.claims(m)
    c1 = found["C1"][1]
    assert [x.verdict for x in c1] == ["reproduced"] and c.claim_verdict(c1) == "reproduced"
    c2 = {x.text: x.verdict for x in found["C2"][1]}
    assert c2["kld(joint_w) < kld(dem) on Two-Circle"] == "reproduced"
    assert c2["auc(joint_w) > auc(dem) on Two-Circle"] == "contradicted"
    assert c.claim_verdict(found["C2"][1]) == "not reproduced"
    assert c.claim_verdict(found["C3"][1]) == "not run"


def test_contamination_slopes():
    ratios = [0.1, 0.2, 0.3, 0.4]
    m = []
    for seed, noise in enumerate([0.0, 0.01, -0.01]):
        for r in ratios:
            m += [{"dataset": "two_circle", "setting": f"contaminated-{r}", "metric": "hsr", "method": "joint_w",
                   "seed": seed, "value": 0.8 - 0.1 * r + noise, "status": "ok"},
                  {"dataset": "two_circle", "setting": f"contaminated-{r}", "metric": "hsr", "method": "wgan_gp",
                   "seed": seed, "value": 0.8 - 1.0 * r + noise, "status": "ok"}]
    comp = c.slope_comparison(pd.DataFrame(m), "joint_w", "wgan_gp")
    np.testing.assert_allclose(comp.diffs, 0.9)  # −0.1 − (−1.0) per seed
    assert comp.verdict == "reproduced"
