"""Shared fixtures: configuration helpers and the location of the authors' reference data."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_hparams(method: str, **over) -> dict:
    """The method's hyper-parameters from the smoke profile, shrunk for unit tests."""
    from methods.harness import config as suite_config

    cfg = suite_config.load("smoke")
    hp = suite_config.hparams(cfg, method)
    hp.update({"batch_size": 16, "hidden": 16, "curve_samples": 32}, **over)
    return hp


@contextlib.contextmanager
def float64():
    """torch's default dtype is float64 inside the block (tensors, networks and optimiser slots made there)."""
    import torch

    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(default)


# The modules that run DAGs, longest first (their longest tests in a quiet run of the suite at commit 190c548,
# docs/performance.md: test_pipeline over 300 s with its smoke DAG, test_robustness over 170 s, test_dag over 100 s,
# test_cluster 63 s, test_extension 37 s, test_image_metrics over 30 s; commit 1005071 then cut the cluster and
# extension tests, and this order was not timed again).
# pytest-xdist hands whole modules to its workers in collection order (pyproject: --dist loadfile
# --no-loadscope-reorder), so these start first and the many short tests fill in beside them: longest-first
# scheduling, which keeps one worker from starting the smoke DAG when the other is nearly done.
LONGEST_FIRST = ("test_pipeline.py", "test_robustness.py", "test_dag.py", "test_cluster.py", "test_extension.py",
                 "test_image_metrics.py")


def pytest_collection_modifyitems(items: list) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a module is kept


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The authors' released 2-D data (../shared/reference); tests that need it skip when it is not given."""
    path = os.environ.get("STEIN_REFERENCE_DIR")
    if not path:
        pytest.skip("STEIN_REFERENCE_DIR is not set (CI sets it to ../shared/reference)")
    path = Path(path)
    if not (path / "two_circle_data.npz").exists():
        pytest.skip(f"STEIN_REFERENCE_DIR={path} holds no two_circle_data.npz")
    return path


def copy_repo(dest: Path, source: Path = ROOT) -> Path:
    """A copy of the repository's tracked-relevant files (of `source`, another copy), as a fresh clone has them (the
    published results, no other results, no environment), for running the DAG in isolation."""
    ignore = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", ".pytest_cache",
                                    "*.egg-info", "build", "report.html")
    shutil.copytree(source, dest, ignore=ignore)
    (dest / "results").mkdir(exist_ok=True)
    if (source / "results" / "published").exists():
        shutil.copytree(source / "results" / "published", dest / "results" / "published")
    return dest


def written(repo: Path) -> list[Path]:
    """What a DAG wrote into the copy's results/: everything but the published results."""
    return [p for p in (repo / "results").iterdir() if p.name != "published"]


# Timeouts in tests only guard against hangs. Each is sized for a machine 3× slower than the 2-core one these tests
# were timed on, with both pytest-xdist workers busy: there the smoke DAG (the longest DAG of the test suite) took
# 265 s inside the test suite (2 min 10 s alone), so a DAG gets 30 minutes (3 × 265 s = 13 min); a single command
# (a configuration error, a 40-iteration run) took under 10 s, and gets 5 minutes.
DAG_TIMEOUT = 1800
COMMAND_TIMEOUT = 300


def snakemake(args: list[str], cwd: Path, timeout: int = DAG_TIMEOUT) -> subprocess.CompletedProcess:
    """Run Snakemake from the interpreter running the tests (the suite's environment)."""
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


TINY = {  # a profile for these tests: four quick 2-D runs
    "training": {"iterations": 40, "checkpoint_every": 20, "eval_every": 20, "curve_samples": 100},
    "seeds": 1,
    "experiments": {"tiny": {"datasets": ["two_circle"], "settings": ["clean"],
                             "methods": ["gan", "wgan_gp", "dem", "joint_w"]}},
}


def tiny_repo(dest: Path, only: tuple = (), **extra) -> Path:
    """A copy of the repository with the tiny profile (and `extra` keys), on some of its methods when `only`
    names them."""
    repo = copy_repo(dest)
    profile = {**TINY, **extra}
    if only:
        profile["experiments"] = {"tiny": {**TINY["experiments"]["tiny"], "methods": list(only)}}
    (repo / "config" / "profiles" / "tiny.yaml").write_text(yaml.safe_dump(profile))
    return repo


def metric_values(path: Path) -> dict:
    """{metric: value} of a run's metrics.json."""
    return {k: v["value"] for k, v in json.loads(path.read_text())["metrics"].items()}
