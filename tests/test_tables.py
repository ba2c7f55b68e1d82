"""Tables (evaluation/tables.py): the ceiling and floor rows come first, and each method's cell says how many of its
seeds are trained."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation import tables


def metric_rows(dataset, setting, method, metric, values):
    return [{"dataset": dataset, "setting": setting, "method": method, "seed": k, "metric": metric, "value": v}
            for k, v in enumerate(values)]


def run_rows(dataset, setting, method, trained):
    return [{"dataset": dataset, "setting": setting, "method": method, "seed": k, "status": "ok",
             "beats_floor": t, "plateaued": True} for k, t in enumerate(trained)]


def test_clean_table_has_the_references_first_and_trained_counts_per_cell():
    metrics = pd.DataFrame(metric_rows("two_circle", "clean", "ceiling", "hsr", [0.92, 0.92]) +
                           metric_rows("two_circle", "clean", "floor", "hsr", [0.20, 0.22]) +
                           metric_rows("two_circle", "clean", "wgan_gp", "hsr", [0.5, 0.7]))
    runs = pd.DataFrame(run_rows("two_circle", "clean", "wgan_gp", [True, False]))
    table = tables.clean_table(metrics, runs, ["two_circle"], ["hsr"])
    assert list(table.index) == ["ceiling: true mixture", "floor: Gaussian fit", "wgan_gp"]
    assert table.loc["wgan_gp", "two_circle hsr"] == "0.600 ± 0.141 (1/2)"
    assert table.loc["floor: Gaussian fit", "two_circle hsr"] == "0.210 ± 0.014"  # no trained count: a reference
    assert table.loc["wgan_gp", "runs"] == "2/2" and table.loc["ceiling: true mixture", "runs"] == "–"


def test_image_table_names_its_references_and_sweep_tables_carry_them():
    metrics = pd.DataFrame(metric_rows("mnist5k", "clean", "ceiling", "fid_classifier", [20.0]) +
                           metric_rows("mnist5k", "clean", "floor", "fid_classifier", [1400.0]) +
                           metric_rows("mnist5k", "clean", "wgan_gp", "fid_classifier", [2000.0]))
    runs = pd.DataFrame(run_rows("mnist5k", "clean", "wgan_gp", [False]))
    table = tables.clean_table(metrics, runs, ["mnist5k"], ["fid_classifier"])
    assert list(table.index) == ["ceiling: real training images", "floor: uniform noise", "wgan_gp"]
    assert table.loc["wgan_gp", "mnist5k fid_classifier ↓"] == "2000.000 (0/1)"  # one seed: no spread to show
    sweep = pd.DataFrame(sum((metric_rows("two_circle", f"contaminated-{r}", m, "hsr", [v]) for r in (0.1, 0.2)
                              for m, v in (("floor", 0.2), ("ceiling", 0.9), ("joint_w", 0.5))), []))
    runs = pd.DataFrame(sum((run_rows("two_circle", f"contaminated-{r}", "joint_w", [True]) for r in (0.1, 0.2)),
                            []))
    table = tables.sweep_table(sweep, runs, "contaminated", ["hsr"])
    assert list(table.index) == ["two_circle ceiling: true mixture hsr", "two_circle floor: Gaussian fit hsr",
                                 "two_circle joint_w hsr"]
    assert table.loc["two_circle joint_w hsr", "contaminated-0.2"] == "0.500 (1/1)"


def test_memorised_runs_are_marked_on_their_generator_cells_with_a_footnote(tmp_path):
    metrics = pd.DataFrame(metric_rows("two_circle", "clean", "ceiling", "mmd", [0.0, 0.0]) +
                           metric_rows("two_circle", "clean", "gan", "mmd", [0.01, 0.03]) +
                           metric_rows("two_circle", "clean", "gan", "kld", [1.0, 1.0]) +
                           metric_rows("two_circle", "clean", "dem", "kld", [0.5, 0.7]))
    runs = pd.DataFrame([{**r, "memorised": k == 1} for k, r in
                         enumerate(run_rows("two_circle", "clean", "gan", [True, True]))] +
                        run_rows("two_circle", "clean", "dem", [True, True]))
    table = tables.clean_table(metrics, runs, ["two_circle"], ["mmd", "kld"])
    assert table.loc["gan", "two_circle mmd ↓"] == "0.020 ± 0.014 (2/2) †1"
    assert table.loc["gan", "two_circle kld ↓"] == "1.000 ± 0.000 (2/2)"  # an energy's cell: no mark
    assert "†" not in table.loc["dem", "two_circle kld ↓"]
    tables.write_table(table, tmp_path / "synthetic", "caption")
    md = (tmp_path / "synthetic.md").read_text()
    assert md.rstrip().splitlines()[-1].startswith("†j: j of the cell's seeds are memorised")
    tables.write_table(tables.clean_table(metrics, runs.drop(columns="memorised"), ["two_circle"], ["mmd"]),
                       tmp_path / "plain", "caption")
    assert "†" not in (tmp_path / "plain.md").read_text()  # no mark, no footnote


def test_a_cell_shows_no_spread_for_one_seed_and_no_sign_on_zero():
    assert tables.mean_std(pd.Series([0.25])) == "0.250"
    assert tables.mean_std(pd.Series([0.1, 0.3])) == f"0.200 ± {np.std([0.1, 0.3], ddof=1):.3f}"
    assert tables.mean_std(pd.Series([-1e-9, -2e-9])) == "0.000 ± 0.000"
    assert tables.mean_std(pd.Series([np.nan])) == "–"


def test_the_paper_table_sets_the_released_models_beside_our_cells():
    metrics = pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": "joint_w", "seed": s,
                             "metric": "hsr", "value": v, "status": "ok"} for s, v in enumerate([0.7, 0.8])]
                           + [{"dataset": "two_circle", "setting": "clean", "method": "wgan_gp", "seed": 0,
                               "metric": "hsr", "value": 0.6, "status": "ok"}])
    runs = pd.DataFrame({"dataset": "two_circle", "setting": "clean", "method": ["joint_w", "joint_w", "wgan_gp"],
                         "seed": [0, 1, 0], "status": "ok", "beats_floor": [True, True, False],
                         "plateaued": [True, False, False]})
    released = pd.DataFrame({"dataset": ["two_circle"], "method": ["joint_w"], "metric": ["hsr"], "value": [0.846]})
    table = tables.paper_table(metrics, runs, released)
    assert list(table.index) == ["wgan_gp", "joint_w"]  # the paper's row order
    assert table.loc["joint_w", "released model"] == "0.846" and table.loc["joint_w", "trained"] == "1/2"
    assert table.loc["wgan_gp", "released model"] == "–" and table.loc["wgan_gp", "ours"] == "0.600"
