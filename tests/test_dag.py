"""The DAG runs what its resolved configuration says, and no more: seeds and experiments added with `--config` reach
the aggregates, how a run is run (threads) retrains nothing, a change to the evaluation code re-evaluates every run
without retraining, and README's `--config` examples parse (README, "Configuration")."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from methods.harness import config as suite_config
from tests.conftest import COMMAND_TIMEOUT, ROOT, copy_repo, snakemake

pytestmark = pytest.mark.slow

TINY = {  # one quick 2-D run per seed and experiment
    "training": {"iterations": 20, "checkpoint_every": 10, "eval_every": 10, "curve_samples": 50},
    "seeds": 1,
    "experiments": {"tiny": {"datasets": ["two_circle"], "settings": ["clean"], "methods": ["gan"]}},
}
OVERRIDES = ["profile=tiny", "seeds=2",
             "experiments={extra: {datasets: [two_spiral], settings: [clean], methods: [dem]}}"]
RUNS_CSV = "results/tiny/runs.csv"


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    """The tiny profile with two more seeds and one more experiment from the command line, up to the aggregates."""
    repo = copy_repo(tmp_path_factory.mktemp("dag") / "repo")
    (repo / "config" / "profiles" / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    proc = snakemake(["--cores", "2", RUNS_CSV, "--config", *OVERRIDES], repo)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return repo


def test_command_line_seeds_and_experiments_are_aggregated(dag):
    out = dag / "results" / "tiny"
    runs = pd.read_csv(out / "runs.csv")
    assert set(zip(runs["dataset"], runs["method"], runs["seed"])) == {
        ("two_circle", "gan", 0), ("two_circle", "gan", 1), ("two_spiral", "dem", 0), ("two_spiral", "dem", 1)}
    assert (runs["status"] == "ok").all(), runs
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics.loc[metrics["method"] == "gan", "seed"]) == {0, 1}
    assert {"hsr", "kld"} <= set(metrics["metric"])
    resolved = suite_config.read(out / "config.yaml")  # what every step read
    assert resolved["seeds"] == 2 and set(resolved["experiments"]) == {"tiny", "extra"}


def test_more_threads_retrain_nothing(dag):
    proc = snakemake(["-n", "--cores", "2", RUNS_CSV, "--config", *OVERRIDES, "training={threads: 2}"], dag,
                     timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


def job_counts(out: str) -> dict[str, int]:
    """{rule: jobs} of a dry run's job table."""
    table = out[out.index("Job stats:"):].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_a_changed_aggregation_reruns_only_the_aggregates(dag):
    """A step that reads the aggregates reruns when its code changes, and only then: a new comment changes
    nothing, a new function reruns `aggregate` alone (Snakefile, STEP_CODE)."""
    code = dag / "evaluation" / "aggregate.py"
    original = code.read_text()
    try:
        code.write_text(original + "\n# a comment\n")
        proc = snakemake(["-n", "--cores", "2", RUNS_CSV, "--config", *OVERRIDES], dag, timeout=COMMAND_TIMEOUT)
        assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
        code.write_text(original + "\n\ndef _new_column(x):\n    return x\n")
        proc = snakemake(["-n", "--cores", "2", RUNS_CSV, "--config", *OVERRIDES], dag, timeout=COMMAND_TIMEOUT)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert job_counts(proc.stdout + proc.stderr) == {"aggregate": 1, "total": 1}, proc.stdout[-3000:]
    finally:
        code.write_text(original)


def test_a_changed_metric_reevaluates_every_run_without_retraining(dag):
    code = dag / "evaluation" / "metrics2d.py"
    code.write_text(code.read_text() + "\n\ndef _new_metric(x):\n    return x\n")  # a change to the evaluation code
    proc = snakemake(["-n", "--cores", "2", RUNS_CSV, "--config", *OVERRIDES], dag, timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout + proc.stderr)
    assert jobs.get("evaluate") == 2 and "train" not in jobs, jobs  # 4 runs in 2 jobs: gan's seeds, dem's seeds
    trained = {p: p.stat().st_mtime_ns for p in (dag / "results/tiny/runs").rglob("train.json")}
    proc = snakemake(["--cores", "2", RUNS_CSV, "--config", *OVERRIDES], dag)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in trained} == trained  # nothing retrained
    from evaluation.outputs import evaluation_version

    for path in trained:
        record = json.loads(path.with_name("metrics.json").read_text())
        assert record["provenance"]["evaluation_version"] == evaluation_version(dag)


# --- README's --config examples, verbatim -------------------------------------------------------------------------
def readme_examples() -> list[str]:
    """Every snakemake command of README's bash blocks that has a `--config`, and every inline `--config …` with
    concrete values, as a command line."""
    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("&&")[-1].strip()
            if command.startswith(".venv/bin/snakemake") and "--config" in command:
                found.append(command)
    for span in re.findall(r"`(--config [^`]+)`", text):
        if not re.search(r"[A-Z]{2,}", span) and not any(span in command for command in found):  # no placeholder
            found.append(f".venv/bin/snakemake -n --cores 1 {span}")
    return list(dict.fromkeys(found))


DATA_PATHS = ("no data directory given", "no such directory")  # the paper profile's data, not its configuration


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh clone: no results/<profile>/, the published results."""
    return copy_repo(tmp_path_factory.mktemp("fresh") / "repo")


@pytest.mark.parametrize("command", readme_examples())
def test_readme_config_examples_parse(fresh, command):
    args = shlex.split(command, comments=True)[1:]
    proc = snakemake(["-n", *args] if "-n" not in args else args, fresh, timeout=COMMAND_TIMEOUT)
    out = proc.stdout + proc.stderr
    if "invalid configuration" in out:  # only the paper profile's documented data paths may be missing here
        assert any(m in out for m in DATA_PATHS), out[-3000:]
    elif proc.returncode != 0:  # a report of a DAG a fresh clone has not run yet
        assert "--report" in args and "marked for report but does not exist" in out, out[-3000:]


def test_readme_examples_cover_the_command_line_numbers():
    examples = " ".join(readme_examples())
    assert "training='{threads: 4}'" in examples and "lr_implicit: 1e-3" in examples and "seeds=" in examples


def test_a_fresh_clone_trains_every_run_of_the_default_profile(fresh):
    proc = snakemake(["-n", "--cores", "all"], fresh, timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout + proc.stderr)
    cfg = suite_config.load("default", root=fresh)
    training_jobs = suite_config.jobs(cfg)
    assert len(suite_config.runs(cfg)) == sum(len(job.runs) for job in training_jobs)
    assert jobs["train"] == jobs["evaluate"] == len(training_jobs), jobs
    assert max(len(job.runs) for job in training_jobs) == cfg["training"]["stack"] == 1  # one run per job (batch 256)
    assert not (fresh / "results" / "default").exists()  # a dry run writes nothing


# --- a profile over sittings: published parts (evaluation/parts.py) -----------------------------------------------
def test_a_published_part_is_used_by_a_fresh_clone_and_other_training_code_is_refused(dag, tmp_path):
    """What one clone finished, published as a part, is neither retrained nor re-evaluated by a fresh clone, whose
    aggregates hold the part's numbers; a checkout whose training code differs refuses to merge the part."""
    parts = tmp_path / "parts"
    proc = subprocess.run([sys.executable, "-m", "evaluation.parts", "publish", "--config", "results/tiny/config.yaml",
                           "--parts", str(parts), "--name", "sitting1", "--start", "2026-12-07T02:00Z"],
                          cwd=dag, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0 and "4 runs published" in proc.stdout, proc.stderr[-3000:]
    fresh = copy_repo(tmp_path / "fresh", source=dag)
    shutil.copytree(parts, fresh / "results/published/tiny/parts")
    proc = snakemake(["-n", "--cores", "2", RUNS_CSV, "--config", *OVERRIDES], fresh, timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout + proc.stderr)
    assert "train" not in jobs and "evaluate" not in jobs and jobs["aggregate"] == 1, jobs
    proc = snakemake(["--cores", "2", RUNS_CSV, "--config", *OVERRIDES], fresh)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (fresh / "results/tiny/runs").exists()  # nothing trained
    for name, columns in (("runs.csv", ["seconds_per_1000_iterations", "config_hash", "train_code", "plateaued"]),
                          ("metrics.csv", ["metric", "value"])):
        ours, theirs = (pd.read_csv(d / "results/tiny" / name).query("method not in ['ceiling', 'floor']")
                        .sort_values([c for c in ("dataset", "method", "seed", "metric") if c in columns + [
                            "dataset", "method", "seed"]]).reset_index(drop=True) for d in (fresh, dag))
        pd.testing.assert_frame_equal(ours[columns], theirs[columns])
    gan = fresh / "methods" / "gan.py"
    gan.write_text(gan.read_text() + "\n\ndef _changed(x):\n    return x\n")  # other training code
    proc = snakemake(["-n", "--cores", "2", RUNS_CSV, "--config", *OVERRIDES], fresh, timeout=COMMAND_TIMEOUT)
    assert proc.returncode != 0 and "trained by other training code" in proc.stdout + proc.stderr, proc.stdout[-3000:]
