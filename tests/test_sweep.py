"""The recorded sweep (config/profiles/sweep.yaml, evaluation/sweep.py) and the learning-rate schedules it sweeps
(methods/core/optim.py): the grid's expansion into runs on seeds no other profile uses, the rule's ranks on
learning curves whose order is known, and the schedules' closed forms."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from evaluation import sweep as sw
from methods.core.optim import Adam, lr_factor
from methods.harness import config as suite_config


def test_the_grid_expands_into_presets_and_runs_on_unused_seeds():
    cfg = suite_config.load("sweep")
    grid = cfg["sweep"]["grid"]
    points = suite_config.sweep_points(cfg["sweep"])
    assert len(points) == math.prod(len(v) for v in grid.values())
    runs = suite_config.runs(cfg)
    assert len(runs) == len(points) * len(cfg["sweep"]["methods"]) * len(cfg["sweep"]["datasets"]) * cfg["seeds"]
    other_seeds = {r.seed for p in ("smoke", "default") for r in suite_config.runs(suite_config.load(p))}
    assert {r.seed for r in runs}.isdisjoint(other_seeds)
    # a point's overrides reach the run's hyper-parameters: s1… is the second value of the first axis
    axis, values = next(iter(grid.items()))
    second = next(name for name in points if name[1] == "1")
    hp = suite_config.hparams(cfg, f"wgan_gp@{second}", "two_circle")
    expected = values[1] if isinstance(values[1], dict) else {axis: values[1]}
    assert all(hp[k] == v for k, v in expected.items())
    # runs of one point stack together (its datasets and seeds), points never share a job
    for job in suite_config.jobs(cfg):
        assert len({r.method for r in job.runs}) == 1


def test_a_bad_grid_gets_one_message():
    with pytest.raises(suite_config.ConfigError, match="lr_implicitt"):
        suite_config.load("sweep", {"sweep": {"grid": {"lr_implicitt": [1e-3]}}})


def curves_of(values: dict, budgets=(100, 200)) -> pd.DataFrame:
    """Learning curves whose HSR at every row is `values[(method, point)]` (+ 0.01 × seed), other metrics constant."""
    rows = []
    for (method, point), v in values.items():
        for seed in (100, 101):
            for it in range(50, max(budgets) + 1, 50):
                rows.append({"dataset": "two_circle", "setting": "clean", "method": f"{method}@{point}", "seed": seed,
                             "iteration": it, "hsr": v + 0.01 * seed, "mmd": 0.1, "kld": 1.0, "auc": 0.7})
    return pd.DataFrame(rows)


def runs_of(curves: pd.DataFrame, diverged: dict | None = None) -> pd.DataFrame:
    runs = curves[["dataset", "method", "seed"]].drop_duplicates().assign(status="ok", failure="null")
    for (method, seed), it in (diverged or {}).items():
        at = (runs["method"] == method) & (runs["seed"] == seed)
        runs.loc[at, "status"], runs.loc[at, "failure"] = "diverged", json.dumps({"iteration": it})
    return runs


def test_the_rule_ranks_points_by_each_methods_own_metrics():
    curves = curves_of({("wgan_gp", "s00"): 0.5, ("wgan_gp", "s01"): 0.7, ("wgan_gp", "s10"): 0.6,
                        ("joint_w", "s00"): 0.9, ("joint_w", "s01"): 0.4, ("joint_w", "s10"): 0.8})
    values = sw.budget_values(curves, runs_of(curves), [100, 200])
    table = sw.rank_points(values)
    hsr = table[(table["metric"] == "hsr") & (table["budget"] == 200)].set_index(["method", "point"])
    assert hsr.loc[("wgan_gp", "s01"), "rank"] == 1 and hsr.loc[("wgan_gp", "s00"), "rank"] == 3
    assert hsr.loc[("joint_w", "s00"), "rank"] == 1 and hsr.loc[("joint_w", "s01"), "rank"] == 3
    assert hsr.loc[("wgan_gp", "s01"), "mean"] == pytest.approx(0.7 + 1.005)  # mean over the two seeds
    # the other metrics are equal everywhere: every point shares their mean rank
    assert set(table[table["metric"] == "kld"]["rank"]) == {2.0}
    score = sw.scores(table)
    # implicit (HSR ranks 3/1/2 for s00/s01/s10, MMD tied at 2): 2.5, 1.5, 2; joint (HSR 1/3/2, KLD and AUC tied
    # at 2): 5/3, 7/3, 2; the means: s00 2.08, s01 1.92, s10 2
    at = score[score["budget"] == 200].set_index("point")["score"]
    assert at.to_dict() == pytest.approx({"s00": 25 / 12, "s01": 23 / 12, "s10": 2.0})
    assert sw.ranking(score, [100, 200])[0] == "s01"


def test_a_run_that_diverged_ranks_last():
    curves = curves_of({("wgan_gp", "s0"): 0.9, ("wgan_gp", "s1"): 0.5})
    runs = runs_of(curves, diverged={("wgan_gp@s0", 101): 150})
    table = sw.rank_points(sw.budget_values(curves, runs, [100, 200]))
    hsr = table[table["metric"] == "hsr"].set_index(["budget", "point"])["rank"]
    assert hsr[(100, "s0")] == 1 and hsr[(200, "s0")] == 2  # fine before it diverged, last after


def test_an_examples_budget_compares_points_with_different_batches_at_equal_cost():
    # s0: batch 4, 100 iterations; s1: batch 2, 200 iterations. HSR is the iteration count / 1000 in both, so at
    # 400 examples s0 sits at iteration 100 and s1 at 200; at 200 examples at 50 and 100
    rows = [{"dataset": "two_circle", "method": f"gan@{p}", "seed": 100, "iteration": it, "hsr": it / 1000,
             "mmd": 0.1} for p, last in (("s0", 100), ("s1", 200)) for it in range(10, last + 1, 10)]
    curves = pd.DataFrame(rows)
    cfg = {"training": {"batch_size": 4}, "sweep": {"budget_unit": "examples", "grid": {"batch_size": [2]},
                                                     "mode": "axes", "base": {}}}
    assert sw.per_iteration(cfg) == {"s0": 4, "s1": 2}
    values = sw.budget_values(curves, runs_of(curves), [200, 400], sw.per_iteration(cfg))
    hsr = values[values["metric"] == "hsr"].set_index(["point", "budget"])["value"]
    # the rows in (0.9 b, b]: s0 at 400 examples is iteration 100 alone (90 is 360 examples); s1, 190 and 200
    assert hsr[("s0", 400)] == pytest.approx(0.100) and hsr[("s1", 400)] == pytest.approx(0.195)
    assert hsr[("s0", 200)] == pytest.approx(0.050) and hsr[("s1", 200)] == pytest.approx(0.100)
    # counted in iterations instead, the same curves give s1 at iteration 200 and s0 nothing beyond 100
    in_iterations = sw.budget_values(curves, runs_of(curves), [200])
    at = in_iterations.set_index(["point", "metric"])["value"]
    assert np.isnan(at[("s0", "hsr")]) and at[("s1", "hsr")] == pytest.approx(0.195)


def test_sweeps_that_ran_apart_are_ranked_together(tmp_path):
    import yaml

    # two one-point sweeps of wgan_gp; the second's HSR is higher, so it ranks first on HSR, and MMD ties
    for name, hsr in (("long", 0.5), ("hold", 0.7)):
        root = tmp_path / name
        root.mkdir()
        curves = curves_of({("wgan_gp", "s0"): hsr})
        curves.to_csv(root / "curves.csv", index=False)
        runs_of(curves).to_csv(root / "runs.csv", index=False)
        (root / "config.yaml").write_text(yaml.safe_dump(
            {"training": {"batch_size": 4}, "sweep": {"budgets": [100, 200], "grid": {"lr_implicit": [1e-3]}}}))
    score = sw.compare([tmp_path / "long", tmp_path / "hold"])
    at = score[score["budget"] == 200].set_index("point")["score"]
    # one family (implicit): HSR ranks 1 and 2, MMD ties at 1.5; the means 1.25 and 1.75
    assert at.to_dict() == pytest.approx({"hold:s0": 1.25, "long:s0": 1.75})
    # a method only one folder ran is left out, not ranked first for want of rivals: with gan at a low HSR added to
    # "long" alone, the scores are as before (gan would otherwise rank long:s0 first on its cells)
    extra = curves_of({("wgan_gp", "s0"): 0.5, ("gan", "s0"): 0.1})
    extra.to_csv(tmp_path / "long" / "curves.csv", index=False)
    runs_of(extra).to_csv(tmp_path / "long" / "runs.csv", index=False)
    again = sw.compare([tmp_path / "long", tmp_path / "hold"])
    assert again[again["budget"] == 200].set_index("point")["score"].to_dict() == pytest.approx(at.to_dict())
    # budgets in different units do not compare
    config = tmp_path / "hold" / "config.yaml"
    config.write_text(config.read_text().replace("budgets:", "budget_unit: examples\n  budgets:"))
    with pytest.raises(SystemExit, match="same unit; these count long: iterations, hold: examples"):
        sw.compare([tmp_path / "long", tmp_path / "hold"])


def test_a_compare_entry_can_join_methods_of_several_folders(tmp_path):
    import yaml

    # the recipe's runs of wgan_gp last ran in "ema", of joint_w in "vstat" ("ema" also holds a joint_w that the
    # recipe no longer trains, at a high HSR that would change the ranks if it leaked in); "critic" has two points
    folders = {"ema": {("wgan_gp", "s0"): 0.5, ("joint_w", "s0"): 0.9}, "vstat": {("joint_w", "s0"): 0.6},
               "critic": {("wgan_gp", "s0"): 0.7, ("joint_w", "s0"): 0.5,
                          ("wgan_gp", "s1"): 0.4, ("joint_w", "s1"): 0.8}}
    for name, values in folders.items():
        root = tmp_path / name
        root.mkdir()
        curves = curves_of(values)
        curves.to_csv(root / "curves.csv", index=False)
        runs_of(curves).to_csv(root / "runs.csv", index=False)
        (root / "config.yaml").write_text(yaml.safe_dump(
            {"training": {"batch_size": 4}, "sweep": {"budgets": [100, 200], "grid": {"critic_steps": [1, 2]}}}))
    score = sw.compare([f"{tmp_path / 'ema'}:wgan_gp+{tmp_path / 'vstat'}:joint_w", tmp_path / "critic"])
    at = score[score["budget"] == 200].set_index("point")
    # wgan_gp (implicit: HSR ranks 2, 1, 3; MMD ties at 2) and joint_w (joint: HSR ranks 2, 3, 1; KLD, AUC tie at 2)
    assert at["implicit"].to_dict() == pytest.approx({"ema+vstat:s0": 2.0, "critic:s0": 1.5, "critic:s1": 2.5})
    assert at["joint"].to_dict() == pytest.approx({"ema+vstat:s0": 2.0, "critic:s0": 7 / 3, "critic:s1": 5 / 3})
    assert at["score"].to_dict() == pytest.approx({"ema+vstat:s0": 2.0, "critic:s0": (1.5 + 7 / 3) / 2,
                                                    "critic:s1": (2.5 + 5 / 3) / 2})
    with pytest.raises(SystemExit, match="has no sweep runs of dem; its methods: joint_w"):
        sw.compare([f"{tmp_path / 'vstat'}:dem", tmp_path / "critic"])


@pytest.mark.parametrize("schedule, expected", [
    ("constant", lambda u: 1.0), ("linear", lambda u: 1 - u), ("cosine", lambda u: 0.5 * (1 + math.cos(math.pi * u))),
    ("linear_hold", lambda u: 1 - 0.9 * u / 0.75 if u < 0.75 else 0.1)])
def test_schedules_follow_their_closed_forms(schedule, expected):
    n, warmup = 1000, 100
    factors = np.array([lr_factor(schedule, it, n, warmup) for it in range(1, n + 1)])
    assert np.allclose(factors[:warmup], np.arange(1, warmup + 1) / warmup)  # the warm-up
    u = np.arange(n - warmup) / (n - warmup)
    assert np.allclose(factors[warmup:], [expected(x) for x in u])
    assert factors.min() > 0  # every iteration still moves


def test_a_methods_schedule_sets_every_optimisers_rate(tmp_path):
    import methods

    cfg = suite_config.load("smoke")
    hp = {**suite_config.hparams(cfg, "joint_w", "two_circle"), "lr_schedule": "linear", "iterations": 10}
    method = methods.get("joint_w")(hp, (2,))
    method.schedule(6)
    for opt in method.optimizers.values():
        assert opt.lr == pytest.approx(opt.base_lr * 0.5)
    with pytest.raises(ValueError, match="unknown lr_schedule 'step'"):
        lr_factor("step", 1, 10)


def test_a_rate_set_between_steps_is_the_rate_adam_uses():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    ref = torch.nn.Parameter(w.detach().clone())
    ours, theirs = Adam([w], lr=1e-2), torch.optim.Adam([ref], lr=1e-2)
    for step in range(1, 6):
        ours.lr = theirs.param_groups[0]["lr"] = 1e-2 / step
        for p, o in ((w, ours), (ref, theirs)):
            o.zero_grad()
            (p ** 2).sum().backward()
            o.step()
    assert torch.allclose(w, ref, atol=1e-7)


def test_the_sweep_table_names_the_chosen_point(tmp_path):
    sweep = {"methods": ["wgan_gp", "joint_w"], "datasets": ["two_circle"], "budgets": [100, 200],
             "grid": {"lr": [{"lr_implicit": 2e-4, "lr_explicit": 2e-4}, {"lr_implicit": 1e-3, "lr_explicit": 1e-3}],
                      "beta2": [0.999, 0.9]}}
    curves = curves_of({("wgan_gp", "s00"): 0.5, ("wgan_gp", "s01"): 0.7, ("wgan_gp", "s10"): 0.6,
                        ("wgan_gp", "s11"): 0.1, ("joint_w", "s00"): 0.9, ("joint_w", "s01"): 0.8,
                        ("joint_w", "s10"): 0.4, ("joint_w", "s11"): 0.2})
    refs = pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": ref, "seed": 100, "iteration": 0,
                          "hsr": v, "mmd": 0.0, "kld": 0.0, "auc": 1.0} for ref, v in (("ceiling", 0.9), ("floor", 0.2))])
    pd.concat([curves, refs]).to_csv(tmp_path / "curves.csv", index=False)
    runs_of(curves).to_csv(tmp_path / "runs.csv", index=False)
    cfg = suite_config.load("smoke", {"sweep": sweep, "seeds": 2, "first_seed": 100, "training": {"iterations": 200}})
    # wgan_gp is best at s01, joint_w at s00, each far beyond the seeds' noise (the seeds differ by 0.01 alike at
    # every point): the families disagree, so each takes its own point
    decision = sw.make_sweep_table(tmp_path, cfg)
    assert decision.shared is None and decision.families == {"implicit": "s01", "joint": "s00"}
    md = (tmp_path / "tables" / "sweep.md").read_text()
    assert "- implicit: `s01`: lr_implicit = 0.0002, lr_explicit = 0.0002, beta2 = 0.9" in md
    assert "| ceiling | 0.90 |" in md and "| floor | 0.20 |" in md
    table = pd.read_csv(tmp_path / "tables" / "sweep.csv")
    assert set(zip(*table.loc[table["chosen"], ["method", "point"]].drop_duplicates().to_numpy().T)) == \
        {("wgan_gp", "s01"), ("joint_w", "s00")}
    # with joint_w best at s01 too, one point serves both families
    curves.loc[(curves["method"] == "joint_w@s01"), "hsr"] += 1.0
    pd.concat([curves, refs]).to_csv(tmp_path / "curves.csv", index=False)
    assert str(sw.make_sweep_table(tmp_path, cfg)) == "s01"
    assert "**Chosen: `s01`**: lr_implicit = 0.0002, lr_explicit = 0.0002, beta2 = 0.9" in \
        (tmp_path / "tables" / "sweep.md").read_text()


def seed_curves(hsr: dict, budget: int = 200) -> pd.DataFrame:
    """wgan_gp curves whose HSR at every row is `hsr[point][i]` for seed 100 + i; MMD equal everywhere."""
    return pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": f"wgan_gp@{p}", "seed": 100 + i,
                          "iteration": it, "hsr": v, "mmd": 0.1}
                         for p, per_seed in hsr.items() for i, v in enumerate(per_seed)
                         for it in range(50, budget + 1, 50)])


def test_a_scores_seed_noise_is_the_bootstrap_over_the_seeds():
    # s0's seeds straddle s1's constant value: the estimate ties them (HSR ranks 1.5 each). A draw takes s0's seed
    # 100 twice (p = 1/4: HSR rank 2), seed 101 twice (1/4: rank 1) or both (1/2: 1.5); MMD ties at 1.5, so s0's
    # implicit score is 1.75, 1.25 or 1.5: sd = sqrt(½ · 0.25²) = 0.177
    curves = seed_curves({"s0": (0.5, 0.9), "s1": (0.7, 0.7)})
    values = sw.budget_values(curves, runs_of(curves), [200])
    boot = sw.bootstrap_scores(values, draws=4000)
    s0 = boot[boot["point"] == "s0"]["implicit"]
    assert s0.mean() == pytest.approx(1.5, abs=0.01) and s0.std() == pytest.approx(0.25 / math.sqrt(2), abs=0.01)
    assert set(s0.round(2)) == {1.25, 1.5, 1.75}
    # seeds that agree give no noise
    steady = seed_curves({"s0": (0.5, 0.5), "s1": (0.7, 0.7)})
    steady_boot = sw.bootstrap_scores(sw.budget_values(steady, runs_of(steady), [200]), draws=50)
    assert (steady_boot.groupby("point")["implicit"].std() == 0).all()


def decide_on(curves: pd.DataFrame, cost: dict, tolerance: dict | None = None) -> sw.Decision:
    values = sw.budget_values(curves, runs_of(curves), [200])
    costs = pd.DataFrame([{"point": p, "family": f, "cost": c} for p, c in cost.items()
                          for f in set(values["family"])])
    table = sw.rank_points(values)
    return sw.decide(sw.scores(table), sw.bootstrap_scores(values), [200], costs, table, tolerance)


def test_a_points_cost_counts_the_arithmetic_of_its_iteration():
    # dem at 3 energy steps per iteration does 3x the matrix products of 1 step; a learning rate changes nothing;
    # in examples, a batch of 100 costs per example what a batch of 256 does
    cfg = suite_config.load("smoke", {"sweep": {"methods": ["dem"], "datasets": ["two_circle"], "budgets": [10],
                                                "mode": "axes", "base": {"energy_steps": 1},
                                                "grid": {"energy_steps": [3], "lr_explicit": [1e-2]}}})
    cost = sw.point_costs(cfg, ["dem@s00", "dem@s10", "dem@s01"]).set_index("point")["cost"]
    assert cost["s10"] == pytest.approx(3 * cost["s00"], rel=0.02) and cost["s01"] == pytest.approx(cost["s00"])


def test_a_difference_within_seed_noise_is_a_tie_that_goes_to_the_cheaper_point():
    # s1 is better on the mean (0.71 against 0.70) but the seeds cross: a tie, and s0 costs half as much
    noisy = seed_curves({"s0": (0.6, 0.8), "s1": (0.62, 0.8)})
    decision = decide_on(noisy, {"s0": 10.0, "s1": 20.0})
    assert decision.shared == "s0"
    (best, *_), (other, delta, sd, cost, tied, losses) = decision.evidence["implicit"]
    assert best == "s1" and other == "s0" and 0 < delta <= sw.TIE_SDS * sd and cost == 10.0 and tied
    # at equal cost (within EQUAL_COST) the better score wins the tie
    assert decide_on(noisy, {"s0": 10.0, "s1": 11.0}).shared == "s1"
    # a difference far beyond the seeds' spread is no tie: the better point wins whatever it costs
    clear = seed_curves({"s0": (0.50, 0.51), "s1": (0.80, 0.81)})
    assert decide_on(clear, {"s0": 10.0, "s1": 40.0}).shared == "s1"


def test_a_point_that_loses_a_value_beyond_its_tolerance_does_not_tie():
    # the ranks tie (as above), but the cheaper s0's HSR is 0.01 below s1's: within a tolerance of 0.055 it is
    # admitted, beyond one of 0.005 it is not, and the better point wins whatever it costs
    noisy = seed_curves({"s0": (0.6, 0.8), "s1": (0.62, 0.8)})
    assert decide_on(noisy, {"s0": 10.0, "s1": 20.0}, {"hsr": 0.055}).shared == "s0"
    decision = decide_on(noisy, {"s0": 10.0, "s1": 20.0}, {"hsr": 0.005})
    assert decision.shared == "s1"
    (_, *_), (other, delta, sd, _, tied, losses) = decision.evidence["implicit"]
    assert other == "s0" and delta <= sw.TIE_SDS * sd and not tied
    assert len(losses) == 1 and "hsr -0.01" in losses[0], losses


def test_one_axis_at_a_time_away_from_a_base():
    sweep = {"mode": "axes", "base": {"lr_implicit": 1e-3, "batch_size": 100},
             "grid": {"batch_size": [256], "critic_steps": [1, 3]}}
    points = suite_config.sweep_points(sweep)
    assert points == {"s00": {"lr_implicit": 1e-3, "batch_size": 100},
                      "s10": {"lr_implicit": 1e-3, "batch_size": 256},
                      "s01": {"lr_implicit": 1e-3, "batch_size": 100, "critic_steps": 1},
                      "s02": {"lr_implicit": 1e-3, "batch_size": 100, "critic_steps": 3}}


def test_an_axis_runs_only_for_the_methods_it_names():
    cfg = suite_config.load("sweep_baselines")
    points = suite_config.sweep_points(cfg["sweep"])
    assert set(points) == {"s00", "s10", "s20", "s01"}
    methods_at = {}
    for run in suite_config.runs(cfg):
        name, point = suite_config.split_variant(run.method)
        methods_at.setdefault(point, set()).add(name)
    assert methods_at["s01"] == {"egan", "dgm"}  # the generator's rate: not ebm_langevin, which has no generator
    assert methods_at["s00"] == methods_at["s10"] == methods_at["s20"] == {"egan", "dgm", "ebm_langevin"}
    with pytest.raises(suite_config.ConfigError, match="lr_implicitt"):
        suite_config.load("sweep_baselines", {"sweep": {"only": {"lr_implicitt": ["egan"]}}})


def test_one_point_is_shared_only_where_every_family_admits_it():
    # wgan_gp (implicit) ties s0 and s1; dem (explicit) prefers s1 clearly: at equal cost both admit s1, shared
    def curves(dem_kld):
        rows = seed_curves({"s0": (0.6, 0.8), "s1": (0.62, 0.8)})
        rows = pd.concat([rows, pd.DataFrame([
            {"dataset": "two_circle", "setting": "clean", "method": f"dem@{p}", "seed": 100 + i, "iteration": it,
             "kld": k + 0.01 * i, "auc": 0.8} for p, k in dem_kld.items() for i in range(2)
            for it in range(50, 201, 50)])])
        return rows

    both = curves({"s0": 1.0, "s1": 0.5})
    assert decide_on(both, {"s0": 10.0, "s1": 11.0}).shared == "s1"
    # s1 costs 3x: the implicit family's tie goes to the cheaper s0, while dem still needs s1 (far beyond its noise):
    # no point both admit, so each family takes its own (as n_e for dem and the joint methods)
    split = decide_on(both, {"s0": 10.0, "s1": 30.0})
    assert split.shared is None and split.families == {"implicit": "s0", "explicit": "s1"}
    assert split.choice("explicit") == "s1" and str(split) == "implicit: s0, explicit: s1"
