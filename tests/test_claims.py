"""The claims report's statistics, gate and verdicts (evaluation/claims.py) on metrics with known effects."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation import claims as c


def rows(dataset, setting, metric, method, values):
    return [{"dataset": dataset, "setting": setting, "metric": metric, "method": method, "seed": k, "value": v,
             "status": "ok"} for k, v in enumerate(values)]


def runs_of(metrics: pd.DataFrame, trained: bool = True, untrained: tuple = ()) -> pd.DataFrame:
    """runs.csv for the runs behind `metrics`: every run trained (or not), except the (method, seed) pairs in
    `untrained`, whose beats_floor is False."""
    r = metrics[["dataset", "setting", "method", "seed"]].drop_duplicates().reset_index(drop=True)
    bad = [(m, s) in untrained or not trained for m, s in zip(r["method"], r["seed"])]
    return r.assign(status="ok", beats_floor=[not b for b in bad], plateaued=True,
                    not_trained_because=["hsr 0.2 does not pass 0.38" if b else "" for b in bad])


def test_interval_and_p_value_are_the_paired_t_test():
    diffs = np.array([0.3, 0.1, 0.25, 0.2])
    comp = c.Comparison("x", diffs)
    mean, lo, hi = comp.interval()
    ref = stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=stats.sem(diffs))
    assert (lo, hi) == pytest.approx(ref) and mean == pytest.approx(diffs.mean())
    assert comp.p_value() == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue)
    assert c.Comparison("x", np.array([0.3])).p_value() == 1.0  # one seed: no test


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_its_step_down_definition(seed):
    p = np.random.default_rng(seed).uniform(0, 0.2, size=7)
    p[2] = p[5]  # ties
    adjusted = c.holm(p)
    # a second implementation: Holm's sequential rejection at every level α, read back as adjusted p-values
    for alpha in np.linspace(0.001, 0.5, 200):
        rejected = np.zeros(len(p), bool)
        for i, j in enumerate(np.argsort(p, kind="stable")):
            if p[j] > alpha / (len(p) - i):
                break
            rejected[j] = True
        np.testing.assert_array_equal(adjusted <= alpha, rejected)


def test_holm_closed_form():
    # sorted p = (0.01, 0.02, 0.04): (3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04)) = (0.03, 0.04, 0.04)
    np.testing.assert_allclose(c.holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    np.testing.assert_allclose(c.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1


def test_holm_controls_the_family_a_single_test_would_pass():
    # four comparisons, each p ≈ 0.03 alone: reproduced one at a time, inconclusive as a family of four
    m = pd.DataFrame(rows("two_circle", "clean", "hsr", "joint_w", [0.60, 0.70, 0.62, 0.66]) +
                     rows("two_circle", "clean", "hsr", "wgan_gp", [0.55, 0.61, 0.60, 0.58]))
    alone = c.assess([c.paired(m, "two_circle", "clean", "hsr", "joint_w", "wgan_gp", True)], runs_of(m))
    assert alone[0].p_value() < 0.05 and alone[0].verdict == "reproduced"
    family = c.assess([c.paired(m, "two_circle", "clean", "hsr", "joint_w", "wgan_gp", True) for _ in range(4)],
                      runs_of(m))
    assert all(x.verdict == "inconclusive" and x.p_holm == pytest.approx(min(1, 4 * x.p_value())) for x in family)


def clear_effects() -> pd.DataFrame:
    """Large effects whose per-seed differences still vary (identical differences would be degenerate)."""
    return pd.DataFrame(
        rows("two_circle", "clean", "hsr", "joint_w", [0.8, 0.82, 0.79]) +
        rows("two_circle", "clean", "hsr", "wgan_gp", [0.5, 0.52, 0.51]) +
        rows("two_circle", "clean", "kld", "joint_w", [1.0, 1.1, 1.05]) +
        rows("two_circle", "clean", "kld", "dem", [2.0, 2.15, 2.02]) +  # lower KLD for joint_w: claimed direction
        rows("two_circle", "clean", "auc", "joint_w", [0.6, 0.61, 0.62]) +
        rows("two_circle", "clean", "auc", "dem", [0.9, 0.93, 0.91]))  # lower AUC for joint_w: contradicted


def test_a_trained_clearly_better_run_is_reproduced():
    m = clear_effects()
    found = c.claims(m, runs_of(m))
    c1 = found["C1"][1]
    assert [x.verdict for x in c1] == ["reproduced"] and c.claim_verdict(c1) == "reproduced"
    c2 = {x.text: x.verdict for x in found["C2"][1]}
    assert c2["kld(joint_w) < kld(dem) on Two-Circle"] == "reproduced"
    assert c2["auc(joint_w) > auc(dem) on Two-Circle"] == "contradicted"
    assert c.claim_verdict(found["C2"][1]) == "not reproduced"
    assert c.claim_verdict(found["C3"][1]) == "not run"


def test_an_untrained_run_makes_its_comparisons_not_assessable():
    m = clear_effects()
    found = c.claims(m, runs_of(m, untrained=[("wgan_gp", 1)]))
    (c1,) = found["C1"][1]
    assert c1.verdict == c.NOT_ASSESSABLE and c.claim_verdict([c1]) == c.NOT_ASSESSABLE
    assert len(c1.untrained) == 1 and "wgan_gp on two_circle/clean: 1/3 seeds not trained" in c1.untrained[0]
    assert "beats_floor false for seed 1;" in c1.untrained[0] and "hsr 0.2 does not pass 0.38" in c1.untrained[0]
    # the C2 comparisons do not use wgan_gp: still judged
    assert {x.verdict for x in found["C2"][1]} == {"reproduced", "contradicted"}


def test_a_contradiction_outweighs_a_comparison_that_cannot_be_judged():
    m = clear_effects()
    found = c.claims(m, runs_of(m, untrained=[("dem", 0)]))  # C2: both comparisons against dem untrained
    assert {x.verdict for x in found["C2"][1]} == {c.NOT_ASSESSABLE}
    assert c.claim_verdict(found["C2"][1]) == c.NOT_ASSESSABLE
    judged = c.Comparison("y", -np.array([0.3, 0.31, 0.29]), p_holm=0.001)
    blocked = c.Comparison("z", np.array([0.3, 0.31, 0.29]), untrained=["x: not trained"])
    assert judged.verdict == "contradicted"
    assert c.claim_verdict([blocked, judged]) == "not reproduced"
    assert c.claim_verdict([blocked, c.Comparison("w", np.array([0.3, 0.31, 0.29]), p_holm=0.001)]) == \
        c.NOT_ASSESSABLE


def test_missing_runs_block_the_gate():
    m = clear_effects()
    runs = runs_of(m)
    runs = runs[~((runs["method"] == "joint_w") & (runs["seed"] == 2))]
    runs = pd.concat([runs, pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": "joint_w",
                                           "seed": 2, "status": "missing", "beats_floor": False,
                                           "plateaued": False, "not_trained_because": "missing"}])])
    (c1,) = c.claims(m, runs)["C1"][1]
    assert c1.verdict == c.NOT_ASSESSABLE and "1/3 seeds not trained" in c1.untrained[0]


def test_contamination_slopes():
    ratios = [0.1, 0.2, 0.3, 0.4]
    m = []
    for seed, noise in enumerate([0.0, 0.01, -0.01]):
        for r in ratios:
            m += [{"dataset": "two_circle", "setting": f"contaminated-{r}", "metric": "hsr", "method": "joint_w",
                   "seed": seed, "value": 0.8 - 0.1 * r + noise, "status": "ok"},
                  {"dataset": "two_circle", "setting": f"contaminated-{r}", "metric": "hsr", "method": "wgan_gp",
                   "seed": seed, "value": 0.8 - 1.0 * r + noise * (1 + r), "status": "ok"}]
    m = pd.DataFrame(m)
    (comp,) = c.assess([c.slope_comparison(m, "joint_w", "wgan_gp")], runs_of(m))
    np.testing.assert_allclose(comp.diffs, [0.9, 0.89, 0.91])  # −0.1 − (−1.0 ± 0.01) per seed
    assert comp.verdict == "reproduced"
    assert set(comp.cells) == {("two_circle", f"contaminated-{r}", meth)
                               for r, meth in itertools.product(ratios, ["joint_w", "wgan_gp"])}
    (blocked,) = c.assess([c.slope_comparison(m, "joint_w", "wgan_gp")], runs_of(m, untrained=[("joint_w", 0)]))
    assert blocked.verdict == c.NOT_ASSESSABLE and len(blocked.untrained) == len(ratios)


def test_identical_differences_over_seeds_are_degenerate_not_a_verdict():
    # every seed 0.3 better: sd 0, so the t statistic is undefined (it used to give p = 0 and `reproduced`)
    m = pd.DataFrame(rows("two_circle", "clean", "hsr", "joint_w", [0.8, 0.9, 0.7]) +
                     rows("two_circle", "clean", "hsr", "wgan_gp", [0.5, 0.6, 0.4]) +
                     rows("two_spiral", "clean", "hsr", "joint_w", [0.8, 0.82, 0.79]) +
                     rows("two_spiral", "clean", "hsr", "wgan_gp", [0.5, 0.52, 0.51]))
    degenerate, judged = c.claims(m, runs_of(m))["C1"][1]
    assert degenerate.degenerate and not judged.degenerate
    assert degenerate.p_value() == 1.0 and degenerate.verdict == "inconclusive"
    assert degenerate.label == "inconclusive (degenerate: zero spread over seeds)"
    # in Holm's family it is a hypothesis that is not rejected: the other comparison's p is doubled, not halved
    assert degenerate.p_holm == 1.0 and judged.p_holm == pytest.approx(min(1.0, 2 * judged.p_value()))
    assert judged.verdict == "reproduced" and c.claim_verdict([degenerate, judged]) == "inconclusive"
    assert c.Comparison("x", np.zeros(3)).degenerate and not c.Comparison("x", np.array([0.3])).degenerate
    row = next(line for line in report_of(m, runs_of(m)).splitlines() if line.startswith("| hsr(joint_w) > hsr("
                                                                                         "wgan_gp) on Two-Circle"))
    assert row.endswith("| 1 | inconclusive (degenerate: zero spread over seeds) |")


def report_of(metrics: pd.DataFrame, runs: pd.DataFrame) -> str:
    """claims.md for these metrics and runs (no bilinear game: C6 `not run`)."""
    import tempfile
    from pathlib import Path

    rules = {"margin": 0.25, "window": 0.25, "tolerance": {"hsr": 0.03, "kld": 0.1, "auc": 0.015,
                                                            "fid_classifier": 0.05, "auc_ood_noise": 0.015}}
    with tempfile.TemporaryDirectory() as root:
        metrics.to_csv(Path(root) / "metrics.csv", index=False)
        runs.to_csv(Path(root) / "runs.csv", index=False)
        return c.report(Path(root), "test", rules)


def test_memorised_runs_are_listed_where_runs_csv_has_the_column():
    m = clear_effects()
    runs = runs_of(m)
    assert "Memorised" not in report_of(m, runs)  # no column (older aggregates): no section
    flagged = (runs["method"] == "wgan_gp") & (runs["seed"] == 1)
    text = report_of(m, runs.assign(memorised=flagged.map({True: "True", False: "False"})))  # as read from CSV
    section = text.split("## Memorised runs", 1)[1].split("\n## ", 1)[0]
    assert "more than noise (runs.csv, `memorised`): 1." in section
    assert "- wgan_gp on two_circle/clean, seed 1" in section and "joint_w on" not in section
    c1 = text.split("## C1: ", 1)[1].split("\n## ", 1)[0]  # named again under the claim whose runs include it
    assert "Memorised runs behind these comparisons" in c1 and "- wgan_gp on two_circle/clean, seed 1" in c1
    assert "Memorised runs behind" not in text.split("## C2: ", 1)[1].split("\n## ", 1)[0]
    none = report_of(m, runs.assign(memorised=False))
    assert "more than noise (runs.csv, `memorised`): none." in none


def test_scores_beyond_the_true_distribution_are_named_with_what_they_mean():
    m = clear_effects()
    truth = pd.DataFrame(rows("two_circle", "clean", "hsr", "ceiling", [0.75, 0.76, 0.77]) +  # joint_w beyond
                         rows("two_circle", "clean", "auc", "ceiling", [1.0, 1.0, 1.0]))
    text = report_of(pd.concat([m, truth]), runs_of(m))
    assert "to the ceiling" not in text and "the true distribution's score (the `ceiling` reference" in text
    c1 = text.split("## C1: ", 1)[1].split("\n## ", 1)[0]
    assert "on HSR: HSR rewards samples crowded onto the means" in c1
    assert "- HSR of joint_w on Two-Circle: 0.803 against the true distribution's 0.760 (beyond it on 3/3 seeds)" \
        in c1
    assert "HSR of wgan_gp" not in c1  # below the truth: nothing to say
    assert "Beyond the true distribution" not in text.split("## C2: ", 1)[1]  # no AUC above 1


def test_the_report_names_every_untrained_run_and_why():
    from evaluation.claims import trained_table

    runs = pd.DataFrame({"dataset": "two_circle", "setting": "clean", "method": ["joint_w", "joint_w"],
                         "seed": [0, 1], "status": "ok", "beats_floor": [True, True], "plateaued": [True, False],
                         "not_trained_because": ["", "kld moved -0.1 over the last 25% (tolerance 0.06)"]})
    text = "\n".join(trained_table(runs))
    assert "1/2" in text  # the table: 1 of 2 seeds trained
    assert "Not trained (1), and why:" in text
    assert "Every run (runs.csv):" in text
    for seed in (0, 1):  # each run by its folder, trained or not
        assert f"| two_circle/clean/joint_w/seed{seed} |" in text
    row = next(line for line in text.splitlines() if line.startswith("| two_circle/clean/joint_w/seed1 |"))
    assert [c.strip() for c in row.strip("|").split("|")] == [
        "two_circle/clean/joint_w/seed1", "True", "False", "kld moved -0.1 over the last 25% (tolerance 0.06)"]
    assert "- joint_w on two_circle/clean, seed 1: kld moved -0.1 over the last 25% (tolerance 0.06)" in text
    assert "seed 0:" not in text
