"""The training runner and the evaluation step: a run by hand writes every training output, the evaluation reads them
back from the run folder (checkpoint, samples, curve) and gives the same numbers every time, a run resumes from its
checkpoint whatever the threads and cadence, and an image run works by hand."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("method", ["joint_w", "gan"])
def test_run_by_hand_then_evaluate(tmp_path, method):
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
    for name in ("checkpoint.pt", "samples.npy", "curve.csv", "train.json"):
        assert (run / name).exists(), name
    assert not (run / "metrics.json").exists()  # evaluation is the next step
    values = []
    for out in (run / "metrics.json", tmp_path / "again.json"):
        subprocess.run([*py, "evaluation.evaluate", "--run-dir", str(run), "--data", str(data), "--out", str(out)],
                       cwd=ROOT, check=True)
        record = json.loads(out.read_text())
        assert record["status"] == "ok" and record["metrics"]
        assert record["provenance"]["evaluation_version"]
        values.append({k: v["value"] for k, v in record["metrics"].items()})
    assert values[0] == values[1]


def test_threads_and_cadence_resume_the_same_run(tmp_path, capfd):
    """Threads, device and the checkpoint and curve cadence are how a run is run, not what it computes: a finished
    run asked again with other threads and cadence resumes from its checkpoint (nothing left to train); another
    hyper-parameter starts afresh."""
    from datasets.make import build
    from methods.harness import config as suite_config
    from methods.harness.train import train

    data, run = tmp_path / "data.npz", tmp_path / "run"
    np.savez(data, **build("two_circle", "clean", 0))
    hp = {**suite_config.hparams(suite_config.load("smoke"), "gan", "two_circle"),
          "iterations": 20, "checkpoint_every": 10, "eval_every": 10, "curve_samples": 50}
    first = train(data, "gan", hp, run, progress=False)
    samples = np.load(run / "samples.npy")
    capfd.readouterr()
    again = train(data, "gan", {**hp, "threads": 2, "eval_every": 5, "checkpoint_every": 5}, run, threads=2,
                  progress=False)
    assert f"resuming {run} from iteration 20" in capfd.readouterr().err
    assert again["config_hash"] == first["config_hash"]
    assert again["resumed_from"] == 20 and again["iterations_this_session"] == 0
    assert np.array_equal(np.load(run / "samples.npy"), samples)
    other = train(data, "gan", {**hp, "batch_size": 50}, run, progress=False)
    assert other["config_hash"] != first["config_hash"] and other["resumed_from"] == 0


def test_an_image_run_by_hand(tmp_path):
    """`train --profile smoke` on a stored MNIST-5k training set: the image track's hyper-parameters, samples of
    `eval_samples` images; its evaluation asks for the DAG's classifier by name."""
    data, run = tmp_path / "mnist5k.npz", tmp_path / "run"
    py = [sys.executable, "-m"]
    subprocess.run([*py, "datasets.make", "--dataset", "mnist5k", "--out", str(data)], cwd=ROOT, check=True)
    proc = subprocess.run([*py, "methods.harness.train", "--profile", "smoke", "--method", "wgan_gp",
                           "--data", str(data), "--run-dir", str(run)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    status = json.loads((run / "train.json").read_text())
    assert status["status"] == "ok" and status["hparams"]["image_width"] == 0.25
    assert np.load(run / "samples.npy").shape == (status["hparams"]["eval_samples"], 1, 28, 28)
    proc = subprocess.run([*py, "evaluation.evaluate", "--run-dir", str(run), "--data", str(data)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--classifier results/<profile>/classifiers/mnist5k.pt" in proc.stderr


def test_curve_rows_hold_the_papers_metrics_and_never_change_what_a_run_learns(tmp_path):
    """Every learning-curve row holds HSR, modes covered and MMD (generator) and KLD, JSD and AUC (energy), and
    logging them draws nothing from the training's random streams: the same run with rows every 10 or every 20
    iterations ends with identical parameters and identical final metrics."""
    import pandas as pd
    import torch

    from datasets.make import build
    from evaluation.evaluate import evaluate
    from methods.harness import config as suite_config
    from methods.harness.io import write_json
    from methods.harness.train import train

    data = tmp_path / "data.npz"
    np.savez(data, **build("two_circle", "clean", 0))
    hp = {**suite_config.hparams(suite_config.load("smoke"), "joint_w", "two_circle"),
          "iterations": 40, "checkpoint_every": 40, "curve_samples": 300}
    for name, every in (("a", 10), ("b", 20)):
        train(data, "joint_w", {**hp, "eval_every": every}, tmp_path / name, progress=False)
        write_json(tmp_path / name / "metrics.json", evaluate(tmp_path / name, data))
    curve = pd.read_csv(tmp_path / "a" / "curve.csv")
    assert list(curve["iteration"]) == [10, 20, 30, 40]
    for metric in ("hsr", "modes_covered", "mmd", "kld", "jsd", "auc"):
        assert curve[metric].notna().all(), metric
    final = {k: v["value"] for k, v in json.loads((tmp_path / "a" / "metrics.json").read_text())["metrics"].items()}
    again = {k: v["value"] for k, v in json.loads((tmp_path / "b" / "metrics.json").read_text())["metrics"].items()}
    assert {k: v for k, v in final.items() if k != "mmd_spread"} == {k: v for k, v in again.items()
                                                                     if k != "mmd_spread"}
    assert curve["auc"].iloc[-1] == pytest.approx(final["auc"])  # the final evaluation's negatives
    a, b = (torch.load(tmp_path / n / "checkpoint.pt", weights_only=True)["method"]["model"] for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    status = json.loads((tmp_path / "a" / "train.json").read_text())
    assert status["kind"] == "joint" and status["curve_params"]["kld"]["grid"] == "100x100"
