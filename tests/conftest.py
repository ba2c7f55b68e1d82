"""Shared fixtures: configuration helpers and the location of the authors' reference data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tiny_hparams(method: str, **over) -> dict:
    """The method's hyper-parameters from the smoke profile, shrunk for unit tests."""
    from methods import config as suite_config

    cfg = suite_config.load("smoke")
    hp = suite_config.hparams(cfg, method)
    hp.update({"batch_size": 16, "hidden": 16, "curve_samples": 32}, **over)
    return hp


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


def copy_repo(dest: Path) -> Path:
    """A copy of the repository's tracked-relevant files (no results, no environment) for running the DAG in
    isolation."""
    ignore = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", ".pytest_cache",
                                    "*.egg-info", "build")
    shutil.copytree(ROOT, dest, ignore=ignore)
    (dest / "results").mkdir(exist_ok=True)
    return dest


def snakemake(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake from the interpreter running the tests (the suite's environment)."""
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
