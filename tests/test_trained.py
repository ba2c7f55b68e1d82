"""Is a run trained? (evaluation/trained.py): beats_floor and plateaued on synthetic aggregates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import trained as t

RULES = {"margin": 0.25, "window": 0.25, "tolerance": {"hsr": 0.03, "kld": 0.1, "auc": 0.015, "auc_ood_noise": 0.02,
                                                      "auc_ood_overlay": 0.02, "fid_classifier": 0.1}}


def test_tail_change_is_the_fitted_line_over_the_window():
    it = np.arange(50, 1001, 50)
    assert t.tail_change(it, 0.3 + 1e-4 * it, 1000, 0.25) == pytest.approx(1e-4 * 250)  # a line: slope × window
    assert t.tail_change(it, np.full(len(it), 0.7), 1000, 0.25) == pytest.approx(0)
    noisy = 0.7 + 0.05 * np.where(np.arange(len(it)) % 2, 1, -1)  # ±0.05 noise, no trend
    assert abs(t.tail_change(it, noisy, 1000, 0.25)) < 0.05
    assert t.tail_change(np.array([900, 1000]), np.array([0.1, 0.2]), 1000, 0.25) is None  # too few rows
    assert t.tail_change(it, np.where(it > 800, np.nan, 0.5), 1000, 0.25) is None  # NaNs do not count


@pytest.mark.parametrize("higher", [True, False])
def test_beats_needs_a_quarter_of_the_gap(higher):
    floor, ceiling = (0.2, 1.0) if higher else (1.6, 0.0)
    bar = t.threshold(floor, ceiling, 0.25)
    assert bar == pytest.approx(0.4 if higher else 1.2)
    step = 0.01 if higher else -0.01
    assert t.beats(bar + step, floor, ceiling, 0.25, higher) and not t.beats(bar - step, floor, ceiling, 0.25, higher)


def aggregates(curves: dict, finals: dict, status: dict | None = None):
    """runs, metrics (with the references of two_circle/clean/seed 0) and curves for runs named by method."""
    runs = pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": m, "seed": 0,
                          "status": (status or {}).get(m, "ok"), "failure": None, "iterations": 1000}
                         for m in finals])
    refs = [{"dataset": "two_circle", "setting": "clean", "method": ref, "seed": 0, "metric": k, "value": v}
            for ref, vals in {"floor": {"hsr": 0.2, "kld": 1.6, "auc": 0.52},
                              "ceiling": {"hsr": 0.92, "kld": 0.0, "auc": 1.0}}.items() for k, v in vals.items()]
    rows = [{"dataset": "two_circle", "setting": "clean", "method": m, "seed": 0, "metric": k, "value": v}
            for m, vals in finals.items() for k, v in vals.items()]
    it = np.arange(50, 1001, 50)
    curve_rows = [{"dataset": "two_circle", "setting": "clean", "method": m, "seed": 0, "iteration": i,
                   **{k: f(i) for k, f in fs.items()}} for m, fs in curves.items() for i in it]
    return runs, pd.DataFrame(refs + rows), pd.DataFrame(curve_rows)


def test_judge_records_both_facts_and_why():
    flat = {"hsr": lambda i: 0.8}
    rising = {"hsr": lambda i: 0.4 + 4e-4 * i}  # +0.1 over the last 250 iterations
    runs, metrics, curves = aggregates(
        {"good": flat, "blob": {"hsr": lambda i: 0.21}, "rising": rising,
         "energy": {"hsr": lambda i: 0.8, "kld": lambda i: 0.5, "auc": lambda i: 0.6}},
        {"good": {"hsr": 0.8}, "blob": {"hsr": 0.21}, "rising": {"hsr": 0.8},
         "energy": {"hsr": 0.8, "kld": 0.5, "auc": 0.6}, "broken": {}},
        status={"broken": "diverged"})
    out = t.judge(runs, metrics, curves, RULES).set_index("method")
    assert out.loc["good", "beats_floor"] and out.loc["good", "plateaued"]
    assert out.loc["good", "not_trained_because"] == ""
    assert not out.loc["blob", "beats_floor"] and out.loc["blob", "plateaued"]
    assert "hsr 0.21 does not pass 0.38 (floor 0.2, ceiling 0.92)" in out.loc["blob", "not_trained_because"]
    assert out.loc["rising", "beats_floor"] and not out.loc["rising", "plateaued"]
    assert "hsr moved +0.1 over the last 25% (tolerance 0.03)" in out.loc["rising", "not_trained_because"]
    # an energy model is judged on every metric it has: its AUC 0.6 is below 0.52 + 0.25·0.48 = 0.64
    assert not out.loc["energy", "beats_floor"] and out.loc["energy", "plateaued"]
    assert "auc 0.6 does not pass 0.64" in out.loc["energy", "not_trained_because"]
    assert not out.loc["broken", "beats_floor"] and not out.loc["broken", "plateaued"]
    assert t.is_trained(out.reset_index()).tolist() == [True, False, False, False, False]


def test_fixed_references_and_relative_tolerance_on_images():
    runs = pd.DataFrame([{"dataset": "mnist5k", "setting": "clean", "method": "dem", "seed": 0, "status": "ok",
                          "failure": None, "iterations": 1000}])
    metrics = pd.DataFrame([{"dataset": "mnist5k", "setting": "clean", "method": "dem", "seed": 0,
                             "metric": "auc_ood_noise", "value": 0.9}])
    curves = pd.DataFrame([{"dataset": "mnist5k", "setting": "clean", "method": "dem", "seed": 0, "iteration": i,
                            "auc_ood_noise": 0.9} for i in range(100, 1001, 100)])
    out = t.judge(runs, metrics, curves, RULES).iloc[0]
    assert out["beats_floor"] and out["plateaued"]  # 0.9 ≥ 0.5 + 0.25 · (1 − 0.5) without any reference row
    assert t.tolerance(RULES, "fid_classifier", 200.0) == pytest.approx(20.0)


def test_truth_reads_csv_round_trips(tmp_path):
    runs = pd.DataFrame({"beats_floor": [True, False, True], "plateaued": [True, True, False]})
    runs.to_csv(tmp_path / "r.csv", index=False)
    back = pd.read_csv(tmp_path / "r.csv").astype(str)
    assert t.is_trained(back).tolist() == [True, False, False]
    assert t.is_trained(pd.DataFrame({"x": [1]})).tolist() == [False]  # no columns: nothing is trained


def test_seed_spread_pools_the_cells_variances_by_their_degrees_of_freedom():
    """Cells of 2 and 3 seeds with variances 0.02² and 0.05² pool to √((1·0.02² + 2·0.05²)/3); references, a
    one-seed cell and a diverged run do not count."""
    from evaluation.trained import seed_spread

    def rows(method, values, status="ok", metric="hsr"):
        return [{"dataset": "two_circle", "setting": "clean", "method": method, "seed": i, "metric": metric,
                 "value": v, "status": status} for i, v in enumerate(values)]
    m = pd.DataFrame(rows("a", [0.70, 0.70 + 0.02 * np.sqrt(2)]) + rows("b", [0.5, 0.55, 0.6]) + rows("c", [0.9])
                     + rows("ceiling", [0.1, 0.9]) + rows("d", [0.0, 1.0], status="diverged"))
    got = seed_spread(m)
    assert got["hsr"] == pytest.approx(np.sqrt((0.02 ** 2 + 2 * 0.05 ** 2) / 3))
    assert np.isnan(got["kld"])
