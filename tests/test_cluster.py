"""Scale-out (docs/usage.md, "Clusters and GPUs"): the DAG runs through Snakemake's cluster-generic executor with the
local results, and the SLURM profile lists every job's resources."""
from __future__ import annotations

from pathlib import Path

import pytest

from methods.harness import config as suite_config
from tests.conftest import metric_values, snakemake, tiny_repo, written

pytestmark = pytest.mark.slow  # two DAGs


SUBMIT = """#!/usr/bin/env bash
# A local stand-in for a cluster's submit command: run the job script detached, as its own process, print an id.
nohup bash "$1" > /dev/null 2>&1 &
echo $!
"""


CLUSTER_METHODS = ("joint_w",)  # a generator and an energy


def test_cluster_generic_executor_gives_the_local_results(tmp_path):
    local = tiny_repo(tmp_path / "local", CLUSTER_METHODS)
    cluster = tiny_repo(tmp_path / "cluster", CLUSTER_METHODS)
    (job,) = suite_config.jobs(suite_config.load("tiny", root=local))
    target = f"results/tiny/evaluations/{job.name}.json"  # the data, training and evaluation jobs: the cluster's share
    submit = cluster / "submit.sh"
    submit.write_text(SUBMIT)
    submit.chmod(0o755)
    proc = snakemake(["--cores", "2", target, "--config", "profile=tiny"], local)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = snakemake(["--executor", "cluster-generic", "--cluster-generic-submit-cmd", str(submit), "--jobs", "2",
                      "--latency-wait", "30", "--seconds-between-status-checks", "1",  # a local stand-in: poll often
                      target, "--config", "profile=tiny"], cluster)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cluster-generic" in proc.stdout + proc.stderr
    for method in CLUSTER_METHODS:
        path = Path("results/tiny/runs/two_circle/clean") / method / "seed0" / "metrics.json"
        assert metric_values(cluster / path) == metric_values(local / path), method


def test_slurm_profile_lists_jobs_with_resources(tmp_path):
    repo = tiny_repo(tmp_path / "repo")
    proc = snakemake(["--profile", "profiles/slurm", "-n", "--config", "profile=tiny"], repo)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rule train:" in out and "slurm_partition=cpu" in out and "gpu=0" in out and "mem_mb=2000" in out
    assert not written(repo)
