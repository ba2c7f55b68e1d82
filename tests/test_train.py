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
    from methods import config as suite_config

    full = {**suite_config.hparams(suite_config.load("smoke"), method), **hp}
    subprocess.run([*py, "methods.train", "--data", str(data), "--method", method, "--run-dir", str(run),
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
