"""The training runner: a run by hand writes every output, and re-evaluating the stored run from its checkpoint
gives the metrics the training process computed in memory."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("method", ["joint_w", "gan"])
def test_run_by_hand_and_reevaluate(tmp_path, method):
    data = tmp_path / "data.npz"
    run = tmp_path / "run"
    py = [sys.executable, "-m"]
    subprocess.run([*py, "datasets.make", "--dataset", "ring8", "--setting", "clean", "--seed", "0",
                    "--out", str(data)], cwd=ROOT, check=True)
    hp = {"iterations": 6, "checkpoint_every": 4, "eval_every": 3, "curve_samples": 50}
    from methods.harness import config as suite_config

    full = {**suite_config.hparams(suite_config.load("smoke"), method), **hp}
    subprocess.run([*py, "methods.harness.train", "--data", str(data), "--method", method, "--run-dir", str(run),
                    "--hparams", json.dumps(full)], cwd=ROOT, check=True)
    for name in ("checkpoint.pt", "samples.npy", "curve.csv", "train.json", "metrics.json"):
        assert (run / name).exists(), name
    trained = json.loads((run / "metrics.json").read_text())
    assert trained["status"] == "ok" and trained["metrics"]
    out = tmp_path / "again.json"
    subprocess.run([*py, "evaluation.evaluate", "--run-dir", str(run), "--data", str(data), "--out", str(out)],
                   cwd=ROOT, check=True)
    again = json.loads(out.read_text())
    for name, entry in trained["metrics"].items():
        assert again["metrics"][name]["value"] == pytest.approx(entry["value"], rel=1e-9, abs=1e-12), name


def test_curve_rows_hold_the_papers_metrics_and_never_change_what_a_run_learns(tmp_path):
    """Every learning-curve row holds HSR, modes covered and MMD (generator) and KLD, JSD and AUC (energy), and
    logging them draws nothing from the training's random streams: the same run with rows every 10 or every 20
    iterations ends with identical parameters and identical final metrics."""
    import numpy as np
    import pandas as pd
    import torch

    from datasets.make import build
    from methods.harness import config as suite_config
    from methods.harness.train import train

    data = tmp_path / "data.npz"
    np.savez(data, **build("two_circle", "clean", 0))
    hp = {**suite_config.hparams(suite_config.load("smoke"), "joint_w", "two_circle"),
          "iterations": 40, "checkpoint_every": 40, "curve_samples": 300}
    for name, every in (("a", 10), ("b", 20)):
        train(data, "joint_w", {**hp, "eval_every": every}, tmp_path / name, progress=False)
    curve = pd.read_csv(tmp_path / "a" / "curve.csv")
    assert list(curve["iteration"]) == [10, 20, 30, 40]
    for metric in ("hsr", "modes_covered", "mmd", "kld", "jsd", "auc"):
        assert curve[metric].notna().all(), metric
    final = {k: v["value"] for k, v in json.loads((tmp_path / "a" / "metrics.json").read_text())["metrics"].items()}
    again = {k: v["value"] for k, v in json.loads((tmp_path / "b" / "metrics.json").read_text())["metrics"].items()}
    assert {k: v for k, v in final.items() if k != "mmd_spread"} == {k: v for k, v in again.items()
                                                                     if k != "mmd_spread"}
    assert curve["auc"].iloc[-1] == pytest.approx(final["auc"])  # the final evaluation's negatives
    a, b = (torch.load(tmp_path / n / "checkpoint.pt", weights_only=False)["method"]["model"] for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    status = json.loads((tmp_path / "a" / "train.json").read_text())
    assert status["kind"] == "joint" and status["curve_params"]["kld"]["grid"] == "100x100"
