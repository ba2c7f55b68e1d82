"""Robustness and scale-out (docs/metrics.md, "Robustness" and "Clusters and GPUs"): a killed training job resumes to the identical result,
runs are deterministic, bad input gets one clear message and writes nothing, and a diverging run is recorded and
counted while the DAG goes on (clusters: tests/test_cluster.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from snakemake.cli import parse_config

from methods.harness import config as suite_config
from tests.conftest import COMMAND_TIMEOUT, ROOT, metric_values, snakemake, tiny_repo, written

pytestmark = pytest.mark.slow

# --- resume and determinism ---------------------------------------------------------------------------------------
RESUME_ITERATIONS = 200  # long enough that a SIGKILL lands between the first checkpoint (50) and the end


def train_cmd(data: Path, run_dir: Path, iterations: int = RESUME_ITERATIONS) -> list[str]:
    hp = {**suite_config.hparams(suite_config.load("default"), "joint_w"),
          "iterations": iterations, "checkpoint_every": 50, "eval_every": 50, "curve_samples": 200}
    return [sys.executable, "-m", "methods.harness.train", "--data", str(data), "--method", "joint_w",
            "--run-dir", str(run_dir), "--hparams", json.dumps(hp)]


def evaluate(runs: list[tuple[Path, Path]]) -> None:
    """The DAG's evaluation step on trained runs, (training set, run folder) each, in one process: their
    metrics.json."""
    subprocess.run([sys.executable, "-m", "evaluation.evaluate", "--run-dir", *(str(r) for _, r in runs),
                    "--data", *(str(d) for d, _ in runs)], cwd=ROOT, check=True, capture_output=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same joint_w run twice uninterrupted, once killed (SIGKILL) after its first checkpoint and rerun, and
    once on another seed's training set."""
    tmp = tmp_path_factory.mktemp("resume")
    for seed in (0, 1):
        subprocess.run([sys.executable, "-m", "datasets.make", "--dataset", "two_circle", "--seed", str(seed),
                        "--out", str(tmp / f"data{seed}.npz")], cwd=ROOT, check=True)
    for name, seed in (("a", 0), ("b", 0), ("other", 1)):
        subprocess.run(train_cmd(tmp / f"data{seed}.npz", tmp / name), cwd=ROOT, check=True, capture_output=True)
    killed = tmp / "killed"
    proc = subprocess.Popen(train_cmd(tmp / "data0.npz", killed), cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.time() + COMMAND_TIMEOUT
    while not (killed / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = json.loads(subprocess.run(
        [sys.executable, "-c", "import sys, torch; print(torch.load(sys.argv[1], weights_only=True)['iteration'])",
         str(killed / "checkpoint.pt")], capture_output=True, text=True, check=True).stdout)
    assert not (killed / "train.json").exists(), "the job must have been killed before it finished"
    rerun = subprocess.run(train_cmd(tmp / "data0.npz", killed), cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    evaluate([(tmp / "data0.npz", tmp / "a"), (tmp / "data0.npz", tmp / "b"), (tmp / "data1.npz", tmp / "other"),
              (tmp / "data0.npz", killed)])
    print(f"killed by SIGKILL after the checkpoint of iteration {interrupted_at} of {RESUME_ITERATIONS}; rerun "
          "resumed from it")
    return {"dir": tmp, "interrupted_at": interrupted_at, "rerun_log": rerun.stderr}


def test_killed_job_resumes_to_the_uninterrupted_result(runs):
    tmp = runs["dir"]
    assert 0 < runs["interrupted_at"] < RESUME_ITERATIONS
    status = json.loads((tmp / "killed" / "train.json").read_text())
    assert status["resumed_from"] == runs["interrupted_at"] and "resuming" in runs["rerun_log"]
    resumed, straight = metric_values(tmp / "killed" / "metrics.json"), metric_values(tmp / "a" / "metrics.json")
    assert resumed == straight  # exactly: every random-number state travels with the checkpoint
    curve_a = pd.read_csv(tmp / "a" / "curve.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp / "killed" / "curve.csv"), curve_a)


def test_same_seed_same_numbers_other_seed_other_numbers(runs):
    tmp = runs["dir"]
    a, b, other = (metric_values(tmp / n / "metrics.json") for n in ("a", "b", "other"))
    assert a == b
    assert all(a[k] != other[k] for k in ("hsr", "mmd", "kld", "auc"))


# --- bad input: one clear message, nothing written ------------------------------------------------------------------
# (--config overrides, what the message must say). THROUGH_SNAKEMAKE runs Snakemake itself on the tiny profile (about
# 4 s each), one case per kind of check: the profile's name, the schema, a method's keys, a setting, the data, the
# published results (a check of the Snakefile's own). BAD_CONFIG is checked in this process, through the resolution
# the Snakefile calls (`suite_config.load`, on the smoke profile), with --config parsed by Snakemake's parser.
THROUGH_SNAKEMAKE = [
    (["profile=nope"], "unknown profile 'nope'; valid profiles"),
    (["training={batch_size: many}"], "config key training.batch_size: 'many' is not of type 'integer'"),
    (["methods={wgan_gp: {gp_wieght: 5}}"], "methods.wgan_gp: unknown key 'gp_wieght' (did you mean 'gp_weight'?); "
                                            "valid keys of wgan_gp: critic_steps, gp_weight, penalty, and any key"),
    (["experiments={x: {datasets: [two_circle], settings: [contaminated-1.5], methods: [gan]}}"],
     "noise ratio 1.5 is outside [0, 1)"),
    (["experiments={x: {datasets: [mnist], settings: [clean], methods: [gan]}}", "images={paths: {mnist: /nowhere}}"],
     "/nowhere: no such directory"),
    (["published=true"], "no published results for profile 'tiny' (results/published/tiny/ holds no aggregates)"),
]
BAD_CONFIG = [
    (["seeds=0"], "config key seeds"),
    (["training={iterations: -5}"], "config key training.iterations"),
    (["training={batch_size: 0}"], "config key training.batch_size: 0 is out of range"),
    (["methods={wgan_gp: {gp_weight: -5}}"], "methods.wgan_gp.gp_weight: -5.0 is out of range"),
    (["stein={kernel: gauss}"], "config key stein.kernel"),
    (["experiments={x: {datasets: [nope], settings: [clean], methods: [gan]}}"],
     "unknown dataset 'nope'; valid datasets: two_circle"),
    (["experiments={x: {datasets: [two_circle], settings: [clean], methods: [nope]}}"],
     "unknown method 'nope'; valid methods"),
    (["experiments={x: {datasets: [two_circle], settings: [limited-99999], methods: [gan]}}"],
     "n = 99999 is larger than two_circle's training set (2000 points)"),
    (["experiments={x: {datasets: [two_circle], settings: [sometimes], methods: [gan]}}"],
     "unknown setting 'sometimes'; expected clean, contaminated-<r>"),
    (["experiments={x: {datasets: [two_circle], settings: [clean], methods: [gan@fast]}}"],
     "names unknown preset 'fast'"),
    (["experiments={x: {datasets: [mnist], settings: [clean], methods: [gan]}}"],
     "mnist: no data directory given; to get mnist, download the four IDX files"),
    (["methods={foo: {}}"], "there is no methods/foo.py"),
]


@pytest.fixture(scope="module")
def bad_repo(tmp_path_factory):
    return tiny_repo(tmp_path_factory.mktemp("bad") / "repo")


@pytest.mark.parametrize("overrides, message", THROUGH_SNAKEMAKE, ids=[m[:40] for _, m in THROUGH_SNAKEMAKE])
def test_bad_config_stops_before_any_job(bad_repo, overrides, message):
    proc = snakemake(["--cores", "1", "--config", "profile=tiny", *overrides], bad_repo, timeout=COMMAND_TIMEOUT)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out, out[-2000:]
    assert out.count("invalid configuration") == 1  # one message
    assert not written(bad_repo), "nothing may be written"


def test_redrawing_a_profile_published_only_in_parts_says_so(bad_repo):
    """A profile over sittings (evaluation/parts.py) has parts but no aggregates until every run is in one: redrawing
    its published results names that and the command that finishes it, and writes nothing."""
    published = bad_repo / "results" / "published" / "tiny"
    (published / "parts").mkdir(parents=True)
    try:
        proc = snakemake(["--cores", "1", "figures", "--config", "profile=tiny", "published=true"], bad_repo,
                         timeout=COMMAND_TIMEOUT)
    finally:
        shutil.rmtree(published)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and out.count("invalid configuration") == 1
    assert "profile 'tiny' is published in parts only, so far (0 runs in 0 parts" in out, out[-2000:]
    assert "`snakemake --cores 2 --config profile=tiny` trains the others" in out
    assert not written(bad_repo)


@pytest.mark.parametrize("overrides, message", BAD_CONFIG, ids=[m[:40] for _, m in BAD_CONFIG])
def test_bad_config_names_the_key_and_the_fix(overrides, message):
    with pytest.raises((suite_config.ConfigError, ValueError)) as err:  # what the Snakefile reports
        suite_config.load("smoke", parse_config(overrides))
    assert message in str(err.value)


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)


def test_bad_files_name_the_file_and_lose_nothing(tmp_path):
    data = tmp_path / "data.npz"
    assert cli("datasets.make", "--dataset", "two_circle", "--out", str(data)).returncode == 0
    run = tmp_path / "run"
    cmd = train_cmd(data, run, iterations=40)[2:]
    # a missing training set
    proc = cli(*[a if a != str(data) else str(tmp_path / "none.npz") for a in cmd])
    assert proc.returncode == 2 and f"training set {tmp_path / 'none.npz'} does not exist" in proc.stderr
    # a truncated training set
    broken = tmp_path / "broken.npz"
    broken.write_bytes(data.read_bytes()[:200])
    proc = cli(*[a if a != str(data) else str(broken) for a in cmd])
    assert proc.returncode == 2 and f"training set {broken} is unreadable" in proc.stderr
    assert not run.exists() or not any(run.iterdir())
    # a finished run, then its checkpoint truncated: the rerun refuses to restart silently and names the file
    assert cli(*cmd).returncode == 0
    finished = {p.name: p.read_bytes() for p in run.iterdir() if p.name != "checkpoint.pt"}
    ckpt = run / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    proc = cli(*cmd)
    assert proc.returncode == 2
    assert f"checkpoint {ckpt} is corrupt" in proc.stderr and "Delete it to retrain" in proc.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != "checkpoint.pt"} == finished
    # an unknown method and a corrupt image classifier
    proc = cli(*[a if a != "joint_w" else "nope" for a in cmd])
    assert proc.returncode == 2 and "unknown method 'nope'; valid methods" in proc.stderr
    assert cli("datasets.make", "--dataset", "two_circle", "--setting", "contaminated-1.5",
               "--out", str(tmp_path / "x.npz")).stderr.count("outside [0, 1)") == 1
    assert not (tmp_path / "x.npz").exists()


# --- divergence -----------------------------------------------------------------------------------------------------
def test_divergence_is_recorded_counted_and_the_dag_goes_on(tmp_path):
    repo = tiny_repo(tmp_path / "repo", ("wgan_gp", "joint_w"), methods={"wgan_gp": {"lr_implicit": 1.0e38}})
    proc = snakemake(["--cores", "2", "--config", "profile=tiny"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = repo / "results" / "tiny"
    record = json.loads((out / "runs/two_circle/clean/wgan_gp/seed0/metrics.json").read_text())
    assert record["status"] == "diverged" and record["metrics"] == {}
    assert 1 <= record["failure"]["iteration"] <= 40
    assert record["failure"]["losses"] or record["failure"]["parameters"]
    print("diverged run's record:", record["failure"])
    runs = pd.read_csv(out / "runs.csv").set_index("method")
    assert runs.loc["wgan_gp", "status"] == "diverged"
    assert (runs.drop(index="wgan_gp")["status"] == "ok").all()  # the other runs finished
    table = pd.read_csv(out / "tables" / "synthetic.csv", index_col=0)
    assert table.loc["wgan_gp", "diverged"] == 1 and table.loc["wgan_gp", "runs"] == "0/1"
    assert table.loc["joint_w", "diverged"] == 0 and table.loc["joint_w", "runs"] == "1/1"
    assert (out / "claims.md").exists()


def test_a_checkpoint_carrying_a_pickled_object_is_refused(tmp_path):
    """Checkpoints load with weights_only=True: one holding any other pickled object (which could run code on
    load) is refused with a message naming the file and the fix."""
    import argparse

    import torch

    from methods.harness.runfiles import load_checkpoint

    path = tmp_path / "checkpoint.pt"
    torch.save({"iteration": 3, "meta": argparse.Namespace(method="joint_w")}, path)
    with pytest.raises(ValueError, match=f"checkpoint {path} holds pickled Python objects.*Delete it to retrain"):
        load_checkpoint(path)
    torch.save({"iteration": 3, "meta": {"method": "joint_w"}, "w": torch.ones(2)}, path)
    assert load_checkpoint(path)["iteration"] == 3
