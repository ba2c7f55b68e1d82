"""Collect every run of a DAG into its results folder, results/<profile>/ (README, "What you get"):

* `metrics.csv`: long format, one row per (dataset, setting, method, seed, metric), with the metric's defining
  parameters and provenance columns (git commit, config hash, package versions, device). The references of every
  stored training set (evaluation/references.py) are rows too, with method `ceiling` or `floor`;
* `runs.csv`: the completeness check, every run the profile expects with its kind (implicit, explicit, joint),
  status (ok, diverged or missing), the failure record of a diverged run, its cost (seconds per 1000 iterations
  from train.json; wall seconds, the run's share of its training job, and peak resident memory from Snakemake's
  jobs/<job>.benchmark.tsv), the parameters of its
  learning-curve metrics, whether it is trained: `beats_floor`, `plateaued` and `not_trained_because`
  (evaluation/trained.py, with the profile's `trained:` rules), and whether its generator reproduces its training
  set (`memorised`, evaluation/trained.py). Missing and diverged runs are listed, never dropped;
* `curves.csv`: every run's learning curve (iteration, losses and the paper's metrics), long over runs, and one row
  per reference (iteration 0);
* `figure_data.npz`: what the figures draw beyond those tables, for the first seed of the clean setting: up to
  FIGURE_SAMPLES generated points (2-D) or FIGURE_IMAGES images (uint8) per (dataset, method or reference), and each
  2-D energy model's density grid.

Tables, figures and the claims report are made from these four files only, so they can be rebuilt without the
runs: published aggregates are committed in results/published/<profile>/.

    python -m evaluation.aggregate --config results/<profile>/config.yaml [--dir results/<profile>]

The expected runs are those of the configuration the DAG ran with (its `experiments:` and `seeds:`, command-line
overrides included), read from the resolved file the DAG writes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import datasets
from evaluation.trained import REFERENCES, is_trained, judge
from methods.harness import config as suite_config
from methods.harness.config import Run
from methods.harness.io import atomic_path, read_json

IDENTITY = ["dataset", "setting", "method", "seed"]
FIGURE_SAMPLES = 1000  # generated points per (dataset, method) kept for the sample figures
FIGURE_IMAGES = 64  # generated images per (dataset, method) kept for the image grids


def figure_key(run, kind: str) -> str:
    return f"{kind}/{run.dataset}/{run.method}"


def benchmark(path: Path, runs: int = 1) -> dict:
    """Wall seconds (the run's share of its training job of `runs` runs) and peak resident memory (MB) of the
    training job, from Snakemake's jobs/<job>.benchmark.tsv."""
    if not path.exists():
        return {"job_seconds": None, "max_rss_mb": None, "job_runs": runs}
    row = pd.read_csv(path, sep="\t").iloc[-1]
    return {"job_seconds": float(row["s"]) / runs, "max_rss_mb": float(row["max_rss"]) if row["max_rss"] != "-"
            else None, "job_runs": runs}


def metric_rows(profile: str, ident: dict, rec: dict) -> list[dict]:
    return [{"profile": profile, **ident, "metric": metric, "value": entry["value"],
             "params": json.dumps(entry["params"], sort_keys=True), "status": rec["status"],
             "iterations": rec["train"]["iterations"], **rec["provenance"]} for metric, entry in rec["metrics"].items()]


def read_curve(run_dir: Path, ident: dict) -> pd.DataFrame | None:
    path = run_dir / "curve.csv"
    if path.exists() and path.stat().st_size > 1:
        return pd.read_csv(path).assign(**ident)
    return None


def keep_figure_data(figure_data: dict, run_dir: Path, run: Run) -> None:
    """The first seed of the clean setting: samples (images as uint8) and the density grid, for the figures."""
    samples = np.load(run_dir / "samples.npy")
    if len(samples) and datasets.track(run.dataset) == "image":  # FIGURE_IMAGES of them as uint8 pixels
        pixels = np.round((samples[:FIGURE_IMAGES].clip(-1, 1) + 1) * 127.5).astype(np.uint8)
        figure_data[figure_key(run, "samples")] = pixels
    elif len(samples):
        figure_data[figure_key(run, "samples")] = samples[:FIGURE_SAMPLES]
    if (run_dir / "density.npz").exists():
        with np.load(run_dir / "density.npz") as f:
            for k in f.files:
                figure_data[figure_key(run, "density") + "/" + k] = f[k]


def reference_runs(runs: list[Run]) -> list[Run]:
    """The reference "runs" of a profile: ceiling and floor of every stored training set its runs use."""
    sets = sorted({(r.dataset, r.setting, r.seed) for r in runs})
    return [Run(d, s, ref, k) for d, s, k in sets for ref in REFERENCES]


def gather(root: Path, cfg: dict, runs: list[Run], held=frozenset()) -> tuple[list[dict], list[dict],
                                                                              list[pd.DataFrame], dict]:
    """What the run folders (and reference folders) of `runs` below `root` hold: metric rows, runs.csv rows (before
    the trained verdicts), learning curves and figure data; a run without metrics.json is `missing`. `held`: the
    runs published parts hold, which the DAG gave no training job (evaluation/parts.py)."""
    rows, records, curves, figure_data = [], [], [], {}
    profile = cfg["profile"]
    figure_seed = suite_config.first_seed(cfg)  # the figures draw this seed's samples and densities
    jobs = {run: job for job in suite_config.jobs(cfg, skip=set(held)) for run in job.runs}
    for run in runs:
        reference = run.method in REFERENCES
        run_dir = root / ("references" if reference else "runs") / run.path
        ident = {"dataset": run.dataset, "setting": run.setting, "method": run.method, "seed": run.seed}
        if not (run_dir / "metrics.json").exists():
            if not reference:
                records.append({**ident, "status": "missing", "failure": None})
            continue
        rec = read_json(run_dir / "metrics.json")
        rows += metric_rows(profile, ident, rec)
        if not reference:
            records.append({**ident, "kind": rec.get("kind"), "status": rec["status"],
                            "failure": json.dumps(rec.get("failure")), "iterations": rec["train"]["iterations"],
                            "seconds_per_1000_iterations": rec["train"]["seconds_per_1000_iterations"],
                            "machine": rec["train"].get("machine"), "train_commit": rec["train"].get("git_commit"),
                            "config_hash": rec["train"].get("config_hash"),
                            "train_code": rec["train"].get("training_code"),
                            **benchmark(root / "jobs" / f"{jobs[run].name}.benchmark.tsv", len(jobs[run].runs)),
                            "curve_params": json.dumps(rec.get("curve_params") or {}, sort_keys=True)})
        curve = read_curve(run_dir, ident)
        if curve is not None:
            curves.append(curve)
        if run.setting == "clean" and run.seed == figure_seed and rec["status"] == "ok":
            keep_figure_data(figure_data, run_dir, run)
    return rows, records, curves, figure_data


def collect(root: Path, cfg: dict, parts: Path | None = None):
    """The four aggregates of the results folder `root` (results/<profile>/) for the runs `cfg` expects; a run that
    a published part in `parts` holds (evaluation/parts.py) is taken from the part, not from its run folder."""
    from evaluation import parts as published_parts

    expected = suite_config.runs(cfg)
    held = published_parts.covered(parts, cfg) if parts else {}
    rows, records, curves, figure_data = gather(root, cfg, [r for r in expected if r not in held] +
                                                reference_runs(expected), held)
    metrics = pd.DataFrame(rows)
    runs = pd.DataFrame(records)
    if held:
        part = published_parts.load(parts, held)
        metrics, runs = pd.concat([metrics, part["metrics"]]), pd.concat([runs, part["runs"]])
        curves.append(part["curves"])
        figure_data.update(part["figure_data"])
        order = {run: i for i, run in enumerate(expected)}  # runs.csv in the profile's order, as without parts
        runs = runs.assign(_order=[order[run] for run in published_parts.runs_of(runs)]).sort_values("_order") \
            .drop(columns="_order")
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=IDENTITY + ["iteration"])
    curves = curves[IDENTITY + [c for c in curves.columns if c not in IDENTITY]]
    runs = judge(runs, metrics if len(metrics) else pd.DataFrame(columns=IDENTITY + ["metric", "value"]),
                 curves, cfg["trained"])
    return metrics.reset_index(drop=True), runs, curves, figure_data


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite_config.add_arguments(parser)
    parser.add_argument("--parts", type=Path, default=None,
                        help="published parts of the profile (results/published/<profile>/parts): their runs are "
                             "taken from there (evaluation/parts.py)")
    args = parser.parse_args(argv)
    cfg, out = suite_config.from_arguments(args)
    metrics, runs, curves, figure_data = collect(out, cfg, args.parts)
    for name, table in (("metrics.csv", metrics), ("runs.csv", runs), ("curves.csv", curves)):
        with atomic_path(out / name) as tmp:
            table.to_csv(tmp, index=False)
    with atomic_path(out / "figure_data.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **figure_data)
    counts = runs["status"].value_counts().to_dict()
    print(f"{len(runs)} runs expected: " + ", ".join(f"{n} {s}" for s, n in counts.items()) +
          f"; {int(is_trained(runs).sum())} trained (beats_floor and plateaued)", file=sys.stderr)
    for _, r in runs[runs["status"] != "ok"].iterrows():
        print(f"  {r['status']}: {r['dataset']}/{r['setting']}/{r['method']}/seed{r['seed']}", file=sys.stderr)


if __name__ == "__main__":
    main()
