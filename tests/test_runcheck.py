"""methods/harness/runcheck.py: which finished run files are damaged, and what the DAG reruns for them."""
import json
import zipfile

import numpy as np
import pytest

from methods.harness import runcheck as rc


@pytest.fixture
def run(tmp_path):
    """A finished run's folder as training leaves it, and its job's records."""
    d = tmp_path / "runs" / "r"
    d.mkdir(parents=True)
    (tmp_path / "runs.csv").write_text("dataset\n")
    (d / "train.json").write_text(json.dumps({"status": "ok"}))
    np.save(d / "samples.npy", np.zeros((5, 2)))
    (d / "curve.csv").write_text("iteration,hsr\n1,0.5\n")
    with zipfile.ZipFile(d / "checkpoint.pt", "w") as z:
        z.writestr("data.pkl", b"x" * 1000)
    (d / "metrics.json").write_text("{}")
    for folder in ("jobs", "evaluations"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "job.json").write_text("{}")
    return d


def test_whole_files_pass(run):
    assert rc.damaged_runs([run], evaluated=True) == ({}, {})
    assert rc.repair({"job": [run]}, run.parents[1]) == []
    assert (run.parents[1] / "runs.csv").exists()


@pytest.mark.parametrize("name,damage,why", [
    ("checkpoint.pt", lambda p: p.write_bytes(p.read_bytes()[:100]), "not a whole archive"),
    ("samples.npy", lambda p: p.write_bytes(b""), "empty"),
    ("samples.npy", lambda p: p.write_bytes(p.read_bytes()[:90]), "unreadable array"),
    ("train.json", lambda p: p.write_text("{"), "unreadable JSON"),
    ("curve.csv", lambda p: p.unlink(), "missing"),
])
def test_a_damaged_training_output_reruns_the_training_job(run, name, damage, why):
    damage(run / name)
    train, evaluation = rc.damaged_runs([run], evaluated=True)
    assert list(train) == [run / name] and train[run / name].startswith(why) and not evaluation
    lines = rc.repair({"job": [run]}, run.parents[1])
    assert len(lines) == 1 and str(run / name) in lines[0] and "training job job runs again" in lines[0]
    assert not (run.parents[1] / "jobs" / "job.json").exists()  # Snakemake reruns the job, and its evaluation,
    assert not (run.parents[1] / "evaluations" / "job.json").exists()  # and the aggregates, whose missing
    assert not (run.parents[1] / "runs.csv").exists()  # output makes Snakemake rebuild what they read
    assert not (run / name).exists() and ((run / (name + ".damaged")).exists() or why == "missing")


def test_a_lost_metrics_file_reruns_the_evaluation_only(run):
    (run / "metrics.json").unlink()
    lines = rc.repair({"job": [run]}, run.parents[1], apply=False)
    assert "its evaluation job runs again" in lines[0]
    assert (run.parents[1] / "evaluations" / "job.json").exists()  # a dry run changes nothing
    rc.repair({"job": [run]}, run.parents[1])
    assert not (run.parents[1] / "evaluations" / "job.json").exists()
    assert (run.parents[1] / "jobs" / "job.json").exists()


def test_a_job_not_yet_finished_is_not_checked(run):
    (run.parents[1] / "jobs" / "job.json").unlink()
    (run / "samples.npy").write_bytes(b"")
    assert rc.repair({"job": [run]}, run.parents[1]) == []


def test_only_commands_that_run_jobs_repair():
    assert rc.executing(["snakemake", "--cores", "2", "--config", "profile=smoke"])
    for argv in (["snakemake", "-n"], ["snakemake", "-np", "--cores", "2"], ["snakemake", "--dry-run"],
                 ["snakemake", "--report", "r.html"], ["snakemake", "--unlock"], ["snakemake", "--touch"]):
        assert not rc.executing(argv), argv
