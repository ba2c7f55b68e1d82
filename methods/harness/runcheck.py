"""The names of a run folder's files, and whether a finished run's files are whole (no torch: the Snakefile checks
every finished job before it builds the DAG, methods/harness/runfiles.py loads them).

A file is damaged when it is missing, empty or unreadable: train.json and metrics.json must parse as JSON,
samples.npy must load, curve.csv must parse, and checkpoint.pt and density.npz (zip archives, as torch.save and
np.savez write them) must pass their members' CRC checks. `repair` moves a damaged file aside (`<name>.damaged`, for
inspection) and deletes the job's record, so that Snakemake runs the job again: training when a run's training
output is damaged, evaluation when only its metrics.json is; the aggregates then follow. A rerun training job
resumes each run from its checkpoint: a finished run with a whole checkpoint only rewrites its outputs (the same
samples: its random state is in the checkpoint), a run whose checkpoint was damaged trains again from scratch.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

CHECKPOINT, SAMPLES, CURVE, STATUS, METRICS = "checkpoint.pt", "samples.npy", "curve.csv", "train.json", "metrics.json"
DENSITY = "density.npz"


def _json(path: Path) -> str | None:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return f"unreadable JSON ({type(err).__name__}: {err})"
    return None


def _zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as err:
        return f"not a whole archive ({type(err).__name__}: {err})"
    return None if bad is None else f"its member {bad} fails its CRC check"


def _npy(path: Path) -> str | None:
    import numpy as np

    try:
        np.load(path)
    except (OSError, ValueError, EOFError) as err:
        return f"unreadable array ({type(err).__name__}: {err})"
    return None


def _csv(path: Path) -> str | None:
    if path.stat().st_size <= 1:  # a curve without rows is written as an empty file
        return None
    import pandas as pd

    try:
        pd.read_csv(path)
    except (OSError, ValueError) as err:
        return f"unreadable CSV ({type(err).__name__}: {err})"
    return None


CHECKS = {STATUS: _json, CHECKPOINT: _zip, SAMPLES: _npy, CURVE: _csv, DENSITY: _zip, METRICS: _json}


def problem(path: Path) -> str | None:
    """Why the file at `path` is damaged, or None when it is whole."""
    if not path.exists():
        return "missing"
    if path.stat().st_size == 0:
        return "empty"
    return CHECKS[path.name](path)


def training_files(run_dir: Path) -> list[str]:
    """The files a finished run's training must have left: train.json, and for a finished run its checkpoint,
    samples and curve (a diverged run keeps its checkpoint only if it had saved one), plus density.npz where
    train.json says the run wrote one."""
    try:
        status = json.loads((run_dir / STATUS).read_text())
    except (OSError, ValueError):
        return [STATUS]
    names = [STATUS, SAMPLES, CURVE]
    if status.get("status") == "ok":
        names.append(CHECKPOINT)
        if (run_dir / DENSITY).exists() or (run_dir / (DENSITY + ".damaged")).exists():
            names.append(DENSITY)
    return names


def damaged_runs(run_dirs: list[Path], evaluated: bool) -> tuple[dict, dict]:
    """({file: why} of damaged training outputs, {file: why} of damaged metrics.json) over a job's runs;
    `evaluated`: the job's evaluation record exists, so each run's metrics.json should too."""
    train, evaluation = {}, {}
    for run_dir in map(Path, run_dirs):
        for name in training_files(run_dir):
            why = problem(run_dir / name)
            if why:
                train[run_dir / name] = why
        if evaluated and (why := problem(run_dir / METRICS)):
            evaluation[run_dir / METRICS] = why
    return train, evaluation


def repair(jobs: dict, out: Path, apply: bool = True) -> list[str]:
    """Check every job whose training record exists (`jobs`: name → its run folders). For each damaged file, one
    line naming it, why, and what runs again; with `apply`, move it aside and delete the records that make
    Snakemake rerun its job (jobs/<job>.json and evaluations/<job>.json, or only the latter when only metrics.json
    is damaged)."""
    lines = []
    for name, run_dirs in jobs.items():
        record, evaluation = out / "jobs" / f"{name}.json", out / "evaluations" / f"{name}.json"
        if not record.exists():
            continue
        train, metrics = damaged_runs(run_dirs, evaluation.exists())
        if not (train or metrics):
            continue
        again = "training job" if train else "evaluation"
        for path, why in {**train, **metrics}.items():
            lines.append(f"{path}: {why}; its {again} {name} runs again"
                         + (f" (the file is kept as {path.name}.damaged)" if path.exists() else ""))
        if apply:
            for path in [*train, *metrics]:
                if path.exists():
                    path.replace(path.with_name(path.name + ".damaged"))
            for path in ((record, evaluation) if train else (evaluation,)):
                path.unlink(missing_ok=True)
    if apply and lines:  # Snakemake rebuilds a missing intermediate file (a record) only for a job that must run, so
        for end in ("runs.csv", "claims.md", "tables/sweep.md"):  # the chain's ends go too: rebuilding them asks
            (out / end).unlink(missing_ok=True)  # for the aggregates, the evaluations and the training they read
    return lines


INSPECTING = {"-n", "--dry-run", "--dryrun", "--report", "--dag", "--rulegraph", "--filegraph", "--summary",
              "--detailed-summary", "--list", "-l", "--list-rules", "--lint", "--unlock", "--touch", "-t",
              "--cleanup-metadata", "--list-changes", "--lc"}


def executing(argv: list[str]) -> bool:
    """Whether a snakemake command line runs jobs (not a dry run, a report, a listing, --unlock or --touch)."""
    for token in argv[1:]:
        if token in INSPECTING or token.split("=")[0] in INSPECTING:
            return False
        if token.startswith("-") and not token.startswith("--") and token[1:].isalpha() and "n" in token[1:]:
            return False  # a cluster of short flags such as -np
    return True
