"""The Snakemake DAG end to end (SPEC §1, §5, §7): the smoke profile in a temporary copy of the repository, the
one-file-one-entry extension contract, and redrawing tables, figures and claims from the aggregates alone
(configuration errors: tests/test_robustness.py)."""
from __future__ import annotations

import json
import shutil
import time

import pandas as pd
import pytest
import torch

import methods
from evaluation.figures import figure_names
from evaluation.tables import TABLES
from methods.harness import config as suite_config
from tests.conftest import copy_repo, snakemake

# slow; one xdist worker runs the whole module, so the smoke DAG runs once (pyproject: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pipeline")]


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
    cfg = suite_config.load("smoke", root=smoke.parents[1])
    expected = suite_config.runs(cfg)
    runs = pd.read_csv(smoke / "runs.csv")
    assert len(runs) == len(expected) and (runs["status"] == "ok").all(), runs
    for run in expected:
        run_dir = smoke / "runs" / run.path
        for name in ("train.json", "samples.npy", "curve.csv", "metrics.json", "log.txt", "benchmark.tsv",
                     "checkpoint.pt"):
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


THROWAWAY = '''"""A throwaway method for the extension test: dem under another name."""
from methods import register
from methods.dem import Dem


@register
class Throwaway(Dem):
    name = "throwaway"
'''


def test_new_method_needs_one_file_and_one_config_entry(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "methods" / "throwaway.py").write_text(THROWAWAY)
    config = repo / "config" / "config.yaml"
    text = config.read_text()
    assert text.count("\nmethods:\n") == 1
    config.write_text(text.replace("\nmethods:\n", "\nmethods:\n  throwaway: {}\n"))
    proc = snakemake(["-n", "--cores", "1", "--config", "profile=smoke"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "runs/two_circle/clean/throwaway/seed0/train.json" in out
    assert "runs/two_spiral/clean/throwaway/seed0/metrics.json" in out


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
