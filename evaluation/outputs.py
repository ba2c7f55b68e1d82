"""What the DAG's evaluation steps write, named without drawing anything: the tables, the figures of a
configuration, the reference "methods", and the fingerprint of the evaluation code.

The Snakefile takes its output names from here. Every Snakemake invocation, and on a cluster every job, parses the
Snakefile again, so this module imports no matplotlib, seaborn, pandas or torch.
"""
from __future__ import annotations

from pathlib import Path

import datasets
from methods.harness.code import code_version

ROOT = Path(__file__).resolve().parents[1]
RELEASED_SCORES = Path(__file__).with_name("released_models.csv")  # the authors' released models, scored by
# evaluation/released.py; tables/paper sets them beside a profile's numbers
TABLES = ["synthetic", "paper", "modes", "images", "contamination", "limited", "runtime"]  # evaluation/tables.py
REFERENCES = ("ceiling", "floor")  # the reference "methods" of metrics.csv (evaluation/references.py)
# The code that turns a trained run into its metrics.json: a change to any of it re-evaluates every run (rule
# evaluate) and every reference, and retrains nothing.
EVALUATION_CODE = ("evaluation/evaluate.py", "evaluation/metrics2d.py", "evaluation/images.py",
                   "evaluation/classifier.py")

def figure_names(cfg: dict) -> list[str]:
    """The figures a configuration draws (evaluation/figures.py), without extension: the learning curves and the
    robustness figure, and per dataset with a clean setting its samples, and in 2-D its densities and
    convergence."""
    names = ["curves", "robustness"]
    seen = {d for exp in cfg["experiments"].values() for d in exp["datasets"] if "clean" in exp["settings"]}
    for d in sorted(seen, key=datasets.names().index):
        names += [f"samples_{d}"] + ([f"density_{d}", f"convergence_{d}"] if datasets.track(d) == "2d" else [])
    return names


def evaluation_version(root: Path = ROOT) -> str:
    """The fingerprint of the evaluation code (EVALUATION_CODE): recorded in every metrics.json, and a parameter of
    the DAG's evaluate and references rules, so that Snakemake re-evaluates when it changes."""
    return code_version(EVALUATION_CODE, root)
