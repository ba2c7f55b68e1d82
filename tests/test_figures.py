"""Figures (evaluation/figures.py) group methods by their kind (implicit, explicit, joint), read from runs.csv or
the method registry, so a new method or a preset variant appears without any list of names to edit."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from evaluation import figures


def curve_rows(dataset, method, seeds=2, iterations=(50, 100, 150)):
    return [{"dataset": dataset, "setting": "clean", "method": method, "seed": k, "iteration": it,
             "mmd": 0.1 / it + 0.01 * k} for k in range(seeds) for it in iterations]


def test_method_kinds_come_from_runs_csv_then_the_registry():
    runs = pd.DataFrame({"method": ["my_new_method", "wgan_gp"], "kind": ["explicit", None]})
    kinds = figures.method_kinds(runs, ["my_new_method", "wgan_gp", "joint_w@released_code", "not_a_method"])
    assert kinds == {"my_new_method": "explicit", "wgan_gp": "implicit", "joint_w@released_code": "joint",
                     "not_a_method": "other"}
    assert figures.method_kinds(runs.drop(columns="kind"), ["dem"]) == {"dem": "explicit"}


def test_curves_figure_has_one_column_per_kind_and_every_method_in_its_legend():
    methods = ["wgan_gp", "joint_w@released_code", "my_new_method"]
    curves = pd.DataFrame(sum((curve_rows(d, m) for d in ("two_circle", "two_spiral") for m in methods), []) +
                          curve_rows("two_circle", "floor", seeds=1))
    runs = pd.DataFrame({"dataset": "two_circle", "setting": "clean", "method": methods,
                         "kind": ["implicit", "joint", "explicit"]})
    fig = figures.curves_figure(curves, runs)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [f"{d}: {k} methods" for d in ("Two-Circle", "Two-Spiral")
                                               for k in ("implicit", "explicit", "joint")]
    legends = [t.get_text() for ax in axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert set(methods) <= set(legends) and "floor: Gaussian fit" in legends
    plt.close(fig)


def test_sample_figures_draw_the_profiles_first_seed(tmp_path):
    """A profile whose seeds start at 100 (the sweeps, released_long) still gets samples in its figure data: the
    aggregate keeps the first seed's, not seed 0's (which such a profile never runs)."""
    import json

    import numpy as np

    from evaluation import aggregate
    from methods.harness import config as suite_config

    cfg = suite_config.load("smoke", {"first_seed": 100, "seeds": 2, "experiments": {
        "only": {"datasets": ["two_circle"], "settings": ["clean"], "methods": ["gan"]}}})
    for seed in (100, 101):
        run_dir = tmp_path / "runs" / "two_circle" / "clean" / "gan" / f"seed{seed}"
        run_dir.mkdir(parents=True)
        np.save(run_dir / "samples.npy", np.full((5, 2), float(seed)))
        (run_dir / "metrics.json").write_text(json.dumps({
            "status": "ok", "kind": "implicit", "train": {"iterations": 10, "seconds_per_1000_iterations": 1.0},
            "metrics": {"hsr": {"value": 0.5, "params": {}}}, "provenance": {}}))
    _, runs, _, figure_data = aggregate.collect(tmp_path, cfg)
    ours = runs[(runs["method"] == "gan") & (runs["dataset"] == "two_circle") & (runs["setting"] == "clean")]
    assert sorted(ours["seed"]) == [100, 101] and set(ours["status"]) == {"ok"}
    assert list(figure_data) == ["samples/two_circle/gan"]  # the smoke profile's other runs are missing
    assert (figure_data["samples/two_circle/gan"] == 100.0).all()


def test_convergence_draws_mmd_and_kld_on_log_axes_with_values_below_their_floor_at_the_floor():
    """A ceiling's KLD is 0 and a collapsed energy's above 10: on a log axis both stay readable beside trained
    energies' 0.1-1, the zero drawn at the stated floor instead of vanishing."""
    rows = [dict(r, kld=kld, auc=0.8) for method, kld in (("joint_w", 0.5), ("dgm", 12.0))
            for r in curve_rows("two_circle", method)] + [dict(r, kld=0.0, auc=1.0)
                                                           for r in curve_rows("two_circle", "ceiling", seeds=1)]
    curves = pd.DataFrame(rows)
    assert figures.floored(curves)["kld"].min() == figures.LOG_FLOORS["kld"]
    assert figures.floored(curves)["mmd"].min() >= figures.LOG_FLOORS["mmd"]
    fig = figures.convergence_figure(curves, pd.DataFrame({"dataset": [], "setting": [], "method": []}),
                                     "two_circle")
    scales = {ax.get_title(): ax.get_yscale() for ax in fig.axes if ax.get_title()}
    assert scales == {"joint: MMD² ↓ (log)": "log", "joint: KLD ↓ (grid 100², log)": "log", "joint: AUC": "linear"}
    ceiling = [line.get_ydata()[0] for ax in fig.axes for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert figures.LOG_FLOORS["kld"] in ceiling  # the ceiling's zero KLD, drawn at the floor
    plt.close(fig)


def test_a_sample_panel_says_how_many_samples_fall_outside_the_view(tmp_path):
    """A generator that ran off leaves its panel empty; the panel says so instead of reading as one with no samples."""
    import numpy as np

    import datasets

    means = datasets.get("two_circle").means
    np.savez(tmp_path / "f.npz", **{"samples/two_circle/ceiling": means.repeat(10, axis=0),
                                    "samples/two_circle/ran_off": np.full((50, 2), 5000.0)})
    with np.load(tmp_path / "f.npz") as data:
        fig = figures.samples_figure(data, "two_circle")
    notes = {ax.get_title(): [t.get_text() for t in ax.texts] for ax in fig.axes if ax.get_title()}
    assert notes == {"ceiling: true mixture": [], "ran_off": ["50 of 50 outside the view"]}
    plt.close(fig)
