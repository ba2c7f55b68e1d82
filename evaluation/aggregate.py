"""Collect every run's metrics.json into results/<profile>/metrics.csv (SPEC §5), long format: one row per
(dataset, setting, method, seed, metric), with the metric's defining parameters and provenance columns.

    python -m evaluation.aggregate --profile P [--results results]

Also writes results/<profile>/runs.csv, the completeness check: every run the profile expects, with its status
(ok, diverged or missing). Missing and diverged runs are listed there and reported, never silently dropped.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from methods import config as suite_config
from methods.io import atomic_path, read_json

IDENTITY = ["dataset", "setting", "method", "seed"]


def collect(profile: str, results: Path, cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, runs = [], []
    for run in suite_config.runs(cfg):
        path = results / profile / "runs" / run.path / "metrics.json"
        ident = {"dataset": run.dataset, "setting": run.setting, "method": run.method, "seed": run.seed}
        if not path.exists():
            runs.append({**ident, "status": "missing", "failure": None})
            continue
        rec = read_json(path)
        runs.append({**ident, "status": rec["status"], "failure": json.dumps(rec.get("failure"))})
        prov = {k: v for k, v in rec["provenance"].items()}
        for metric, entry in rec["metrics"].items():
            rows.append({"profile": profile, **ident, "metric": metric, "value": entry["value"],
                         "params": json.dumps(entry["params"], sort_keys=True), "status": rec["status"],
                         "seconds_per_1000_iterations": rec["train"]["seconds_per_1000_iterations"],
                         "iterations": rec["train"]["iterations"], **prov})
    return pd.DataFrame(rows), pd.DataFrame(runs)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--results", default=str(suite_config.ROOT / "results"))
    args = parser.parse_args(argv)
    cfg = suite_config.load(args.profile)
    metrics, runs = collect(args.profile, Path(args.results), cfg)
    out = Path(args.results) / args.profile
    with atomic_path(out / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(out / "runs.csv") as tmp:
        runs.to_csv(tmp, index=False)
    counts = runs["status"].value_counts().to_dict()
    print(f"{len(runs)} runs expected: " + ", ".join(f"{n} {s}" for s, n in counts.items()), file=sys.stderr)
    for _, r in runs[runs["status"] != "ok"].iterrows():
        print(f"  {r['status']}: {r['dataset']}/{r['setting']}/{r['method']}/seed{r['seed']}", file=sys.stderr)


if __name__ == "__main__":
    main()
