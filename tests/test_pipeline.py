"""The Snakemake DAG end to end (README, "The two commands", "What you get"): the smoke profile in a temporary copy
of the repository, damaged outputs, the comparison with published numbers, and redrawing tables, figures and claims
from the aggregates alone (adding a method: tests/test_extension.py; configuration errors: tests/test_robustness.py;
what reruns: tests/test_dag.py)."""
from __future__ import annotations

import json
import shutil
import time

import pandas as pd
import pytest
import torch

import methods
from evaluation.outputs import TABLES, figure_names
from methods.harness import config as suite_config
from tests.conftest import copy_repo, snakemake

# slow; one xdist worker runs the whole module, so the smoke DAG runs once (pyproject: --dist loadfile)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke profile run once in a fresh copy of the repository."""
    repo = copy_repo(tmp_path_factory.mktemp("smoke") / "repo")
    t0 = time.perf_counter()
    proc = snakemake(["--cores", "2", "--config", "profile=smoke"], repo)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"smoke DAG wall time: {seconds:.1f} s")
    return repo / "results" / "smoke"


def test_smoke_outputs(smoke):
    cfg = suite_config.read(smoke / "config.yaml")  # the resolved configuration the DAG ran with
    assert cfg == {k: v for k, v in suite_config.load("smoke", root=smoke.parents[1]).items() if k != "published"}
    expected = suite_config.runs(cfg)
    runs = pd.read_csv(smoke / "runs.csv")
    assert len(runs) == len(expected) and (runs["status"] == "ok").all(), runs
    training_jobs = suite_config.jobs(cfg)
    assert any(len(job.runs) > 1 for job in training_jobs)  # the smoke profile stacks runs
    for job in training_jobs:
        record = json.loads((smoke / "jobs" / f"{job.name}.json").read_text())
        assert [r["run_dir"] for r in record["runs"]] == [f"results/smoke/runs/{r.path}" for r in job.runs]
        stacks = methods.get(job.method).stacks(suite_config.hparams(cfg, job.method, job.runs[0].dataset))
        assert [r["stack"] for r in record["runs"]] == [len(job.runs) if stacks else 1] * len(job.runs), record
        for suffix in (".log", ".benchmark.tsv"):
            assert (smoke / "jobs" / f"{job.name}{suffix}").exists()
        evaluated = json.loads((smoke / "evaluations" / f"{job.name}.json").read_text())
        assert evaluated["metrics"] == [f"results/smoke/runs/{r.path}/metrics.json" for r in job.runs]
    for run in expected:
        run_dir = smoke / "runs" / run.path
        for name in ("train.json", "samples.npy", "curve.csv", "metrics.json", "checkpoint.pt"):
            assert (run_dir / name).exists(), f"{run_dir / name} missing"
        record = json.loads((run_dir / "metrics.json").read_text())
        assert record["status"] == "ok" and record["method"] == run.method
        curve = pd.read_csv(run_dir / "curve.csv")
        assert curve["iteration"].iloc[-1] == suite_config.hparams(cfg, run.method, run.dataset)["iterations"]
    metrics = pd.read_csv(smoke / "metrics.csv")
    for col in ("dataset", "setting", "method", "seed", "metric", "value", "params", "git_commit", "config_hash",
                "torch", "device"):
        assert col in metrics.columns
    assert set(metrics["method"]) == {r.method for r in expected} | {"ceiling", "floor"}
    assert set(cfg["methods"]) <= set(metrics["method"])  # every configured method ran
    assert {"hsr", "mmd", "kld", "auc", "auc_contamination", "mmd_spread"} <= set(metrics["metric"])
    assert {"fid_classifier", "is_classifier", "class_coverage", "mean_bias_l1", "auc_ood_noise",
            "auc_ood_overlay"} <= set(metrics["metric"])  # the image track
    missing = metrics[metrics["value"].isna()]
    assert set(missing["metric"]) <= {"fid_inception"}  # only without Inception weights, and then with a reason
    assert all("missing" in json.loads(p) for p in missing["params"])
    accuracy = torch.load(smoke / "classifiers" / "mnist5k.pt", weights_only=True)["meta"]["test_accuracy"]
    assert 0.5 < accuracy <= 1
    for table in TABLES:
        for ext in ("md", "tex", "csv"):
            assert (smoke / "tables" / f"{table}.{ext}").stat().st_size > 0
    assert "wgan_gp" in (smoke / "tables" / "synthetic.md").read_text()
    for table in ("synthetic", "contamination", "limited"):  # the 2-D tables of this profile: both references
        text = (smoke / "tables" / f"{table}.md").read_text()
        assert "ceiling: true mixture" in text and "floor: Gaussian fit" in text, table
    images = (smoke / "tables" / "images.md").read_text()
    assert "ceiling: real training images" in images and "floor: uniform noise" in images
    for figure in figure_names(cfg) + ["bilinear_game"]:
        assert (smoke / "figures" / f"{figure}.png").stat().st_size > 1000, figure
        assert (smoke / "figures" / f"{figure}.pdf").stat().st_size > 1000, figure
    for step in ("references", "aggregate", "tables", "plots", "compare", "claims", "bilinear_game"):
        assert (smoke / "logs" / f"{step}.log").exists(), step
    claims = (smoke / "claims.md").read_text()
    assert all(f"## C{k}:" in claims for k in range(1, 9))
    assert "**The gate.**" in claims and "Holm-Bonferroni" in claims
    assert "| C1 | not assessable |" in claims  # 30 iterations train nothing: no verdict on untrained runs
    assert {"kind", "beats_floor", "plateaued", "not_trained_because", "curve_params"} <= set(runs.columns)
    curves = pd.read_csv(smoke / "curves.csv")
    assert set(curves["method"]) == {r.method for r in expected} | {"ceiling", "floor"}  # every run logs its losses
    two_d = curves[curves["dataset"].isin(["two_circle", "two_spiral"]) & ~curves["method"].isin(["ceiling", "floor"])]
    for run, rows in two_d.groupby(["dataset", "setting", "method", "seed"]):  # the paper's metrics at every row
        cls = methods.get(run[2])
        wanted = (["hsr", "modes_covered", "mmd"] if cls.has_generator else []) + \
            (["kld", "jsd", "auc"] if cls.has_energy else [])
        assert rows[wanted].notna().all().all(), run


def test_smoke_rerun_has_nothing_to_do(smoke):
    proc = snakemake(["-n", "--cores", "2", "--config", "profile=smoke"], smoke.parents[1])
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr


def test_damaged_outputs_rerun_what_needs_them(smoke):
    """A truncated checkpoint, an empty samples.npy and a deleted metrics.json: a dry run names each file; a real
    run moves the damaged files aside, retrains or re-evaluates their jobs and re-aggregates, after which nothing is
    left to do and the repaired run's numbers are its earlier ones (a finished run resumes from its checkpoint)."""
    repo = smoke.parents[1]
    runs = smoke / "runs" / "two_circle" / "clean"
    before = pd.read_csv(smoke / "metrics.csv").set_index(["dataset", "setting", "method", "seed", "metric"])
    checkpoint, samples, metrics = (runs / "joint_w" / "seed0" / "checkpoint.pt", runs / "wgan_gp" / "seed0" /
                                    "samples.npy", runs / "dem" / "seed0" / "metrics.json")
    with open(checkpoint, "r+b") as f:
        f.truncate(1000)
    samples.write_bytes(b"")
    metrics.unlink()
    proc = snakemake(["-n", "--cores", "2", "--config", "profile=smoke"], repo)
    out = proc.stdout + proc.stderr
    for path, why in ((checkpoint, "not a whole archive"), (samples, "empty"), (metrics, "missing")):
        assert f"{path.relative_to(repo)}: {why}" in out, out[-3000:]
    proc = snakemake(["--cores", "2", "--config", "profile=smoke"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "Repairing: " in out and "rule train" in out and "rule evaluate" in out and "rule aggregate" in out
    assert (checkpoint.parent / "checkpoint.pt.damaged").exists() and checkpoint.exists()
    assert (samples.parent / "samples.npy.damaged").exists() and samples.stat().st_size > 0
    assert metrics.exists()
    after = pd.read_csv(smoke / "metrics.csv").set_index(["dataset", "setting", "method", "seed", "metric"])
    pd.testing.assert_series_equal(after["value"], before["value"])
    proc = snakemake(["-n", "--cores", "2", "--config", "profile=smoke"], repo)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_fresh_numbers_are_compared_with_the_published_ones(smoke):
    """With published numbers beside it (here the smoke run's own, as after publishing it), the DAG reruns only the
    comparison and the claims report, and every cell agrees; `figures --config published=true` redraws the
    published results in place."""
    repo = smoke.parents[1]
    published = repo / "results" / "published" / "smoke"
    published.mkdir(parents=True)
    for name in ("metrics.csv", "runs.csv", "curves.csv", "figure_data.npz", "config.yaml"):
        shutil.copy(smoke / name, published / name)
    proc = snakemake(["--cores", "2", "--config", "profile=smoke"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "rule compare" in out and "rule claims" in out and "rule train" not in out and "rule plots" not in out
    table = pd.read_csv(smoke / "tables" / "compare.csv")
    assert len(table) and set(table["verdict"]) == {"agree"} and (table["delta"] == 0).all()
    assert f"{len(table)} agree, 0 differ" in (smoke / "claims.md").read_text()
    proc = snakemake(["--cores", "2", "figures", "--config", "profile=smoke", "published=true"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (published / "claims.md").exists() and (published / "tables" / "synthetic.md").exists()
    assert (published / "figures" / "curves.png").exists()
    assert not (published / "tables" / "compare.md").exists()  # published numbers are not compared with themselves


def test_figures_target_redraws_from_the_aggregates_without_training(smoke):
    repo = smoke.parents[1]
    shutil.rmtree(smoke / "runs")  # as after a fresh clone: only the aggregates are there
    for path in [*smoke.glob("tables/*"), *smoke.glob("figures/*.p*"), smoke / "claims.md"]:
        path.unlink()
    proc = snakemake(["--cores", "2", "figures", "--config", "profile=smoke"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rule train" not in proc.stdout + proc.stderr
    assert (smoke / "claims.md").exists() and (smoke / "figures" / "curves.png").exists()
    assert (smoke / "tables" / "synthetic.md").exists()
    proc = snakemake(["--report", str(repo / "report.html"), "--config", "profile=smoke"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (repo / "report.html").stat().st_size > 100_000
