"""The user's fresh numbers against the published ones (results/published/<profile>/metrics.csv), metric by metric.

For every (dataset, setting, method, metric) of either metrics.csv (references included), over the seeds: the
number of seeds n, the mean and the standard deviation sd (ddof 1) of the fresh and of the published values, the
difference of the means Δ = mean_fresh − mean_published, and the bound 2·√(sd_f²/n_f + sd_p²/n_p), twice the
standard error of that difference (Welch). The verdict:

* `agree`: |Δ| ≤ bound (plus 1e-9 relative, for round-off): the two are as close as their seeds' spread allows;
* `differ`: |Δ| > bound;
* `one seed`: n < 2 on a side, so the spread is unknown (`agree` nonetheless when the values are equal);
* `not published` / `not rerun`: the cell is on one side only.

Missing values (e.g. fid_inception without its weights) are left out. Without a published metrics.csv the table
says so. The machines each side trained on (runs.csv's `machine`, beside each metrics.csv) head the table and fill
its `machine_fresh` / `machine_published` columns. On one CPU model the suite is deterministic, so a rerun of the
published commit there reads Δ = 0 everywhere; float32 training is not bitwise portable across machines, so on
another machine every run is a new draw of its seed and only the statistical verdict above applies (on Two-Spiral
one seed's HSR has moved by 0.2 between machines). A (dataset, setting, method) whose runs trained with another
configuration than the published ones (runs.csv's `config_hash`: hyper-parameters, iterations, data and seed) is
marked in the column `same_config` and named above the table: its Δ measures the change of recipe, not a rerun.

    python -m evaluation.compare --metrics results/<profile>/metrics.csv
        --published results/published/<profile>/metrics.csv --out results/<profile>/tables/compare
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from methods.harness.io import atomic_path, write_text

CELL = ["dataset", "setting", "method", "metric"]
RULE = "agree: |Δ| ≤ 2·√(sd_f²/n_f + sd_p²/n_p) (Δ = mean_fresh − mean_published; sd over seeds, ddof 1)"
VERDICTS = ("agree", "differ", "one seed", "not published", "not rerun")


def runs_beside(metrics_path) -> pd.DataFrame | None:
    """runs.csv beside a metrics.csv, read once for `machines` and `configs`; None when it is absent."""
    runs = Path(metrics_path).with_name("runs.csv")
    return pd.read_csv(runs) if runs.exists() else None


def machines(runs: pd.DataFrame | None) -> str:
    """The machines the runs of a runs.csv (`runs_beside`) trained on, "; "-joined, or "not recorded"."""
    if runs is None:
        return "not recorded"
    found = runs.get("machine", pd.Series(dtype=object)).dropna().unique()
    return "; ".join(sorted(map(str, found))) or "not recorded"


def configs(runs: pd.DataFrame | None) -> dict:
    """{(dataset, setting, method): the set of its runs' config hashes} of a runs.csv (`runs_beside`); {} when it is
    absent or records none."""
    if runs is None or "config_hash" not in runs:
        return {}
    table = runs.dropna(subset=["config_hash"])
    return {key: frozenset(g["config_hash"]) for key, g in table.groupby(["dataset", "setting", "method"])}


def same_config(table: pd.DataFrame, fresh: dict, published: dict) -> pd.Series:
    """Per row: True when the cell's fresh and published runs share their config hashes, False when they differ,
    None when either side does not record them."""
    def same(row):
        key = (row["dataset"], row["setting"], row["method"])
        if key not in fresh or key not in published:
            return None
        return fresh[key] == published[key]
    return table.apply(same, axis=1) if len(table) else pd.Series(dtype=object)


def config_note(table: pd.DataFrame) -> str:
    """The cells trained with another configuration than the published runs, or ""."""
    if "same_config" not in table:
        return ""
    other = table[table["same_config"].eq(False)]  # False, not None (unknown); read back from CSV as bools
    cells = sorted({f"{r.method} on {r.dataset}/{r.setting}" for r in other.itertuples()})
    return ("Trained with another configuration than the published runs (config hash): " + ", ".join(cells) +
            "; their Δ measures the change of recipe.") if cells else ""


def machine_note(fresh: str, published: str) -> str:
    """One sentence on where each side trained and what that means for reading Δ."""
    where = f"Trained on: fresh {fresh}; published {published}."
    if "not recorded" in (fresh, published):
        return where + " One side does not record its machine, so Δ = 0 cannot be expected; read the verdicts."
    if fresh == published:
        return where + " The same machine: a rerun of the published commit should read Δ = 0."
    return (where + " Different machines: float32 training is not bitwise portable, so each fresh run is a new draw "
            "of its seed and only the statistical verdict applies.")


def spread(metrics: pd.DataFrame) -> pd.DataFrame:
    """n, mean and sd over seeds of every (dataset, setting, method, metric)."""
    values = metrics.dropna(subset=["value"])
    return values.groupby(CELL)["value"].agg(n="count", mean="mean", sd=lambda v: v.std(ddof=1))


def verdict(row) -> str:
    if pd.isna(row["n_published"]):
        return "not published"
    if pd.isna(row["n_fresh"]):
        return "not rerun"
    tolerance = 1e-9 * max(1.0, abs(row["mean_published"]))
    if min(row["n_fresh"], row["n_published"]) < 2:
        return "agree" if abs(row["delta"]) <= tolerance else "one seed"
    return "agree" if abs(row["delta"]) <= row["bound"] + tolerance else "differ"


def compare(fresh: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The comparison table (module docstring) of two long-format metrics tables (evaluation/aggregate.py)."""
    table = spread(fresh).add_suffix("_fresh").join(spread(published).add_suffix("_published"), how="outer")
    table["delta"] = table["mean_fresh"] - table["mean_published"]
    table["bound"] = 2 * np.sqrt(table["sd_fresh"] ** 2 / table["n_fresh"] +
                                 table["sd_published"] ** 2 / table["n_published"])
    table = table.reset_index()
    table["verdict"] = table.apply(verdict, axis=1) if len(table) else pd.Series(dtype=str)
    return table


def markdown(table: pd.DataFrame, published: Path, where: str = "") -> str:
    counts = table["verdict"].value_counts()
    head = (f"Fresh numbers against the published ones ({published}), per (dataset, setting, method, metric); "
            f"{RULE}.\n\n" + (f"{where}\n\n" if where else "") +
            ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS) + "\n\n")
    shown = table.copy()
    for col in ("mean_fresh", "sd_fresh", "mean_published", "sd_published", "delta", "bound"):
        shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    for col in ("n_fresh", "n_published"):
        shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return head + shown.to_markdown(index=False) + "\n"


def write(fresh_path, published_path, out) -> pd.DataFrame | None:
    """compare.{md,csv} at the stem `out`; returns the table (None without published numbers)."""
    out, published_path = Path(out), Path(published_path)
    if not published_path.exists():
        note = f"No published numbers to compare with: {published_path} does not exist.\n"
        write_text(out.with_suffix(".md"), note)
        with atomic_path(out.with_suffix(".csv")) as tmp:
            pd.DataFrame(columns=[*CELL, "verdict"]).to_csv(tmp, index=False)
        return None
    table = compare(pd.read_csv(fresh_path), pd.read_csv(published_path))
    fresh_runs, published_runs = runs_beside(fresh_path), runs_beside(published_path)
    fresh_on, published_on = machines(fresh_runs), machines(published_runs)
    table["machine_fresh"], table["machine_published"] = fresh_on, published_on
    table["same_config"] = same_config(table, configs(fresh_runs), configs(published_runs))
    with atomic_path(out.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    where = " ".join(filter(None, [machine_note(fresh_on, published_on), config_note(table)]))
    write_text(out.with_suffix(".md"), markdown(table.drop(columns=["machine_fresh", "machine_published"]),
                                                published_path, where))
    return table


def summary(csv_path, listed: int = 15) -> str:
    """The claims report's section on the comparison: counts per verdict and the cells that differ."""
    head = "## Fresh numbers against the published ones\n\n"
    path = Path(csv_path)
    if not path.exists():
        return head + "No comparison was made (tables/compare.csv is missing).\n"
    table = pd.read_csv(path)
    if "delta" not in table.columns:
        return head + "There are no published numbers for this profile to compare with.\n"
    counts = table["verdict"].value_counts()
    text = (head + f"Per (dataset, setting, method, metric), tables/compare.md; {RULE}. " +
            ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS) + ".\n")
    if "machine_fresh" in table.columns and len(table):
        text += "\n" + machine_note(str(table["machine_fresh"].iloc[0]), str(table["machine_published"].iloc[0])) + "\n"
    note = config_note(table)
    if note:
        text += "\n" + note + "\n"
    differ = table[table["verdict"] == "differ"].assign(size=lambda t: (t["delta"] / t["bound"]).abs())
    if len(differ):
        text += "\nLargest differences (|Δ| / bound):\n\n" + "\n".join(
            f"- {r.dataset}/{r.setting}/{r.method} {r.metric}: {r.mean_fresh:.4g} against {r.mean_published:.4g} "
            f"(|Δ| = {abs(r.delta):.3g}, bound {r.bound:.3g})"
            for r in differ.sort_values("size", ascending=False).head(listed).itertuples()) + "\n"
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", required=True, help="the fresh metrics.csv")
    parser.add_argument("--published", required=True, help="the published metrics.csv (may be absent)")
    parser.add_argument("--out", required=True, help="output stem: writes <out>.md and <out>.csv")
    args = parser.parse_args(argv)
    write(args.metrics, args.published, args.out)


if __name__ == "__main__":
    main()
