"""Tables from results/<profile>/metrics.csv (SPEC §5): Markdown, LaTeX and CSV, mean ± std over seeds with the
number of seeds, and how many diverged.

    python -m evaluation.tables --profile P [--results results]

* `synthetic`: the paper's synthetic table: methods × {Two-Circle, Two-Spiral} × {MMD, HSR, KLD, JSD, AUC},
  extended with modes covered and FD (clean setting);
* `modes`: ring8 / grid25 modes covered and HSR;
* `runtime`: seconds per 1000 training iterations of each method (the training loop only, from train.json; one
  torch thread unless the profile says otherwise), mean ± std over every run of the method, per dataset.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from methods import config as suite_config
from methods.io import atomic_path, write_text

TABLES = {
    "synthetic": (["two_circle", "two_spiral"], ["mmd", "hsr", "modes_covered", "fd", "kld", "jsd", "auc"]),
    "modes": (["ring8", "grid25"], ["modes_covered", "hsr", "mmd"]),
}
LOWER_IS_BETTER = {"mmd", "fd", "kld", "jsd"}


def mean_std(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "–"
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"


def summary(metrics: pd.DataFrame, runs: pd.DataFrame, datasets: list[str], names: list[str],
            setting: str = "clean") -> pd.DataFrame:
    """Rows: methods; columns: (dataset, metric) as "mean ± std", then n (seeds evaluated) and diverged."""
    df = metrics[(metrics["setting"] == setting) & metrics["dataset"].isin(datasets) & metrics["metric"].isin(names)]
    if df.empty:
        return pd.DataFrame()
    table = df.pivot_table(index="method", columns=["dataset", "metric"], values="value", aggfunc=mean_std)
    cols = [(d, n) for d in datasets for n in names if (d, n) in table.columns]
    table = table.reindex(columns=pd.MultiIndex.from_tuples(cols)).fillna("–")
    r = runs[(runs["setting"] == setting) & runs["dataset"].isin(datasets)]
    table[("", "n seeds")] = r[r["status"] == "ok"].groupby("method").size() \
        .reindex(table.index).fillna(0).astype(int).astype(str) + "/" + \
        r.groupby("method").size().reindex(table.index).astype(str)
    table[("", "diverged")] = r[r["status"] == "diverged"].groupby("method").size() \
        .reindex(table.index).fillna(0).astype(int)
    table.columns = [f"{d} {n}".strip() + (" ↓" if n in LOWER_IS_BETTER else "") for d, n in table.columns]
    return table


def runtime_table(metrics: pd.DataFrame) -> pd.DataFrame:
    per_run = metrics.drop_duplicates(["dataset", "setting", "method", "seed"])
    table = per_run.pivot_table(index="method", columns="dataset", values="seconds_per_1000_iterations",
                                aggfunc=mean_std).fillna("–")
    table.columns = [f"{d} s/1000 it" for d in table.columns]
    table["runs"] = per_run.groupby("method").size()
    return table


def write_table(table: pd.DataFrame, stem: Path, caption: str) -> None:
    write_text(stem.with_suffix(".md"), f"{caption}\n\n{table.to_markdown()}\n")
    write_text(stem.with_suffix(".tex"), table.to_latex(caption=caption, escape=True))
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        table.to_csv(tmp)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--results", default=str(suite_config.ROOT / "results"))
    args = parser.parse_args(argv)
    root = Path(args.results) / args.profile
    metrics, runs = pd.read_csv(root / "metrics.csv"), pd.read_csv(root / "runs.csv")
    for name, (datasets, names) in TABLES.items():
        table = summary(metrics, runs, datasets, names)
        n = runs.groupby(["dataset", "setting", "method"]).size()
        caption = (f"Table `{name}` (profile {args.profile}): mean ± std over seeds (up to {int(n.max()) if len(n) else 0}"
                   f" per cell; `n seeds` = evaluated/expected). ↓: lower is better.")
        if table.empty:
            table = pd.DataFrame({"note": [f"no runs on {', '.join(datasets)} in this profile"]})
        write_table(table, root / "tables" / name, caption)
    write_table(runtime_table(metrics), root / "tables" / "runtime",
                f"Table `runtime` (profile {args.profile}): seconds per 1000 training iterations (training loop "
                f"only), mean ± std over runs.")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
