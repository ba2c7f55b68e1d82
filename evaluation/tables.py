"""Tables from results/<profile>/metrics.csv and runs.csv (README, "What you get"): Markdown, LaTeX and CSV in
tables/, every cell
mean ± std over seeds, with the number of seeds evaluated out of those expected, and how many diverged. A
generator's cells carry "†j" when j of its seeds are `memorised` (runs.csv, evaluation/trained.py: its MMD against
its training points beats its MMD against a held-out sample of the true mixture beyond noise), with a footnote.

    python -m evaluation.tables --config results/<profile>/config.yaml [--dir results/<profile>]

* `synthetic`: the paper's synthetic table: methods × {Two-Circle, Two-Spiral} × {MMD, HSR, KLD, JSD, AUC},
  extended with modes covered and FD (clean setting);
* `modes`: ring8 / grid25 modes covered, HSR and MMD (clean setting);
* `images`: the image table (paper Tables 2-3): IS and FID in the classifier's feature space, FID with
  InceptionV3 (missing, with the reason, without its weights), class coverage, mean bias and OOD AUCs;
* `contamination`: HSR (and, for energy models, auc_contamination) against the noise ratio (paper Fig. 7, left);
* `limited`: density AUC against the training-set size (paper Fig. 7, right);
* `paper`: the paper's Table-4 cells the profile has (paper methods × {Two-Circle, Two-Spiral} × {MMD, HSR, KLD,
  JSD, AUC}, clean setting), ours as mean ± std over seeds with the trained seeds (k/n), beside the authors' numbers
  this repository holds: their released 2-D models scored by the suite's evaluation (evaluation/released.py,
  evaluation/released_models.csv);
* `runtime`: per method, seconds per 1000 training iterations (the training loop alone, from train.json; one torch
  thread unless the profile says otherwise), wall seconds of the whole job and its peak resident memory (Snakemake's
  benchmark: records), over every run of the method.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from datasets import track as dataset_track
from datasets.images import IMAGE_DATASETS
from evaluation.outputs import RELEASED_SCORES, TABLES  # noqa: F401  (TABLES: the names the Snakefile expects)
from evaluation.trained import MEMORISED_Z, REFERENCES, is_trained, truth
from methods.harness import config as suite_config
from methods.harness.io import atomic_path, write_text

LOWER_IS_BETTER = {"mmd", "fd", "mmd_train", "fd_train", "mmd_biased", "kld", "jsd", "mmd_spread", "fid_classifier",
                   "fid_inception", "class_kl_uniform", "mean_bias_l1", "mean_bias_l2"}
# table name -> (datasets, metrics) for the clean setting
CLEAN_TABLES = {
    "synthetic": (["two_circle", "two_spiral"], ["mmd", "hsr", "modes_covered", "fd", "kld", "jsd", "auc"]),
    "modes": (["ring8", "grid25"], ["modes_covered", "hsr", "mmd"]),
    "images": (list(IMAGE_DATASETS), ["is_classifier", "fid_classifier", "fid_inception", "class_coverage",
                                      "class_kl_uniform", "mean_bias_l1", "mean_bias_l2", "auc_ood_noise",
                                      "auc_ood_overlay"]),
}


def number(x: float, digits: int = 3) -> str:
    """x to `digits` decimals, without a sign on a value that rounds to zero ("0.000", never "-0.000")."""
    return f"{round(float(x), digits) + 0.0:.{digits}f}"


def mean_std(values: pd.Series) -> str:
    """"mean ± sd" over the seeds (sd with ddof 1); a single seed's value alone, as it has no spread."""
    v = values.dropna()
    if v.empty:
        return "–"
    return number(v.mean()) + (f" ± {number(v.std(ddof=1))}" if len(v) > 1 else "")


def seed_counts(runs: pd.DataFrame, index: str = "method") -> pd.DataFrame:
    """`runs` (evaluated/expected, over the row's datasets and seeds) and `diverged` per value of `index`."""
    ok = runs[runs["status"] == "ok"].groupby(index).size()
    total = runs.groupby(index).size()
    out = pd.DataFrame({"runs": ok.reindex(total.index).fillna(0).astype(int).astype(str) + "/" +
                        total.astype(str),
                        "diverged": runs[runs["status"] == "diverged"].groupby(index).size()
                        .reindex(total.index).fillna(0).astype(int)})
    return out


def label(metric: str) -> str:
    return metric + (" ↓" if metric in LOWER_IS_BETTER else "")


REFERENCE_LABELS = {"ceiling": "ceiling: true mixture", "floor": "floor: Gaussian fit"}
IMAGE_REFERENCE_LABELS = {"ceiling": "ceiling: real training images", "floor": "floor: uniform noise"}


def trained_counts(runs: pd.DataFrame, keys: list[str]) -> pd.Series:
    """"k/n" per value of `keys`: k of the n expected runs are trained (runs.csv beats_floor and plateaued)."""
    flags = runs.assign(trained=is_trained(runs) if len(runs) else [])
    g = flags.groupby(keys)["trained"]
    return g.sum().astype(int).astype(str) + "/" + g.size().astype(str)


GENERATOR_METRICS = {"mmd", "fd", "hsr", "modes_covered", "modes_covered_frac", "mmd_train", "fd_train", "mmd_biased",
                     "mmd_spread"}  # the cells a memorised run's mark goes on
MEMORISED_MARK = "†"
MEMORISED_NOTE = (f"{MEMORISED_MARK}j: j of the cell's seeds are memorised (runs.csv `memorised`): the generator's "
                  f"MMD against its clean training points (mmd_train) beats its MMD against a held-out sample of the "
                  f"true mixture (mmd) by more than {MEMORISED_Z:g} times the permutation noise of that gap; such a "
                  f"generator reproduces its training points, and its training-set numbers flatter it.")


def memorised_counts(runs: pd.DataFrame, keys: list[str]) -> pd.Series:
    """The number of memorised runs (runs.csv `memorised`) per value of `keys`, where there are any."""
    flags = runs.assign(memorised=truth(runs, "memorised")).groupby(keys)["memorised"].sum().astype(int)
    return flags[flags > 0]


def with_marks(cells: pd.DataFrame, marks: dict) -> pd.DataFrame:
    """Append " †j" to each filled cell that `marks[(row, column)]` = j names."""
    out = cells.copy()
    for (row, col), j in marks.items():
        if row in out.index and col in out.columns and out.loc[row, col] != "–":
            out.loc[row, col] = f"{out.loc[row, col]} {MEMORISED_MARK}{j}"
    return out


def with_counts(cells: pd.DataFrame, counts: dict) -> pd.DataFrame:
    """Append " (k/n)" to each filled cell; `counts[(row, column)]` gives k/n (rows without one: references)."""
    out = cells.copy()
    for row in out.index:
        for col in out.columns:
            k = counts.get((row, col))
            if k is not None and out.loc[row, col] != "–":
                out.loc[row, col] = f"{out.loc[row, col]} ({k})"
    return out


def clean_table(metrics: pd.DataFrame, runs: pd.DataFrame, datasets: list[str], names: list[str]) -> pd.DataFrame:
    """Rows: the ceiling and the floor, then the methods; columns: "dataset metric" as mean ± std over seeds, with
    (k/n) trained seeds in each method's cells; then runs evaluated / expected and diverged."""
    df = metrics[(metrics["setting"] == "clean") & metrics["dataset"].isin(datasets) & metrics["metric"].isin(names)]
    r = runs[(runs["setting"] == "clean") & runs["dataset"].isin(datasets)]
    if r.empty:
        return pd.DataFrame()
    table = df.pivot_table(index="method", columns=["dataset", "metric"], values="value", aggfunc=mean_std)
    cols = [(d, n) for d in datasets for n in names if (d, n) in table.columns]
    refs = [m for m in REFERENCES if m in table.index]
    table = table.reindex(index=refs + sorted(r["method"].unique()), columns=pd.MultiIndex.from_tuples(cols))
    table = table.fillna("–")
    trained = trained_counts(r, ["method", "dataset"])
    table = with_counts(table, {(m, (d, n)): k for (m, d), k in trained.items() for n in names})
    table = with_marks(table, {(m, (d, n)): j for (m, d), j in memorised_counts(r, ["method", "dataset"]).items()
                               for n in names if n in GENERATOR_METRICS})
    image = any(dataset_track(d) == "image" for d in datasets)
    table.index = [(IMAGE_REFERENCE_LABELS if image else REFERENCE_LABELS).get(m, m) for m in table.index]
    table.columns = [f"{d} {label(n)}" for d, n in table.columns]
    counts = seed_counts(r)
    counts.index = list(counts.index)
    table = table.join(counts).fillna({"runs": "–", "diverged": 0})  # a reference has nothing to diverge
    return table.astype({"diverged": int})


PAPER_METHODS = ["gan", "wgan_gp", "gan_lr", "wgan_lr", "gan_er", "wgan_er", "gan_va", "wgan_va", "dem", "egan", "dgm",
                 "joint_js", "joint_w"]  # the rows of the paper's synthetic table (Table 4), in its order
PAPER_METRICS = ["mmd", "hsr", "kld", "jsd", "auc"]
PAPER_NOTE = ("The paper's own printed values are not in this repository (no copy of the paper was at hand when this "
              "table was built); the authors' numbers beside ours are those of their released 2-D models (Joint-W and "
              "Joint-JS; github.com/qitianwu/SteinBridging) scored by this suite's evaluation "
              "(evaluation/released.py), trained by their code for 500 000-1 000 000 iterations at lr 1e-5 with "
              "the released modelling choices (sigmoid experts, ∇p score).")


def paper_table(metrics: pd.DataFrame, runs: pd.DataFrame, released: pd.DataFrame) -> pd.DataFrame:
    """Rows (method, dataset, metric) of the paper's synthetic table that the profile ran, clean setting: ours
    (mean ± std over seeds), trained seeds k/n, and the released model's value where the authors released one."""
    df = metrics[(metrics["setting"] == "clean") & metrics["method"].isin(PAPER_METHODS)
                 & metrics["dataset"].isin(["two_circle", "two_spiral"]) & metrics["metric"].isin(PAPER_METRICS)]
    if df.empty:
        return pd.DataFrame()
    ours = df.groupby(["method", "dataset", "metric"])["value"].agg(mean_std)
    trained = trained_counts(runs[runs["setting"] == "clean"], ["method", "dataset"])
    theirs = released.set_index(["method", "dataset", "metric"])["value"]
    rows = [{"method": m, "dataset": d, "metric": label(k), "ours": ours[(m, d, k)], "trained": trained.get((m, d), "–"),
             "released model": number(theirs[(m, d, k)]) if (m, d, k) in theirs.index else "–"}
            for m in PAPER_METHODS for d in ("two_circle", "two_spiral") for k in PAPER_METRICS
            if (m, d, k) in ours.index]
    return pd.DataFrame(rows).set_index("method")


def setting_value(setting: str) -> float:
    """The number in a setting's name: the noise ratio of contaminated-<r>, the size of limited-<n>."""
    return float(re.split(r"-", setting)[1])


def sweep_table(metrics: pd.DataFrame, runs: pd.DataFrame, kind: str, names: list[str]) -> pd.DataFrame:
    """Rows: (dataset, method or reference, metric); columns: the settings of `kind` (contaminated / limited) in
    numeric order; each method's cells with (k/n) trained seeds, references first."""
    df = metrics[metrics["setting"].str.startswith(kind) & metrics["metric"].isin(names)]
    r = runs[runs["setting"].str.startswith(kind)]
    if df.empty or r.empty:
        return pd.DataFrame()
    df = df[df["method"].isin(REFERENCES) | df["method"].isin(r["method"])]
    table = df.pivot_table(index=["dataset", "method", "metric"], columns="setting", values="value",
                           aggfunc=mean_std)
    table = table[sorted(table.columns, key=setting_value)].fillna("–")
    order = {m: i for i, m in enumerate(REFERENCES)}
    table = table.loc[sorted(table.index, key=lambda i: (i[0], order.get(i[1], len(order)), i[1], i[2]))]
    trained = trained_counts(r, ["dataset", "method", "setting"])
    table = with_counts(table, {((d, m, n), s): k for (d, m, s), k in trained.items() for n in names})
    table = with_marks(table, {((d, m, n), s): j for (d, m, s), j in
                               memorised_counts(r, ["dataset", "method", "setting"]).items()
                               for n in names if n in GENERATOR_METRICS})
    table.index = [f"{d} {REFERENCE_LABELS.get(m, m)} {label(n)}" for d, m, n in table.index]
    counts = seed_counts(r.assign(key=r["dataset"] + " " + r["method"]), "key")["runs"]
    table["runs"] = [counts.get(" ".join(i.split(" ")[:2]), "–") for i in table.index]
    return table


def runtime_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (method, data: the 2-D datasets together, or an image dataset)."""
    ok = runs[runs["status"] != "missing"]
    if ok.empty:
        return pd.DataFrame()
    ok = ok.assign(data=[d if dataset_track(d) == "image" else "2-D" for d in ok["dataset"]])
    table = ok.groupby(["method", "data"]).agg(
        **{"s / 1000 iterations": ("seconds_per_1000_iterations", mean_std),
           "job wall s": ("job_seconds", mean_std),
           "peak RSS MB": ("max_rss_mb", lambda v: f"{v.max():.0f}" if v.notna().any() else "–"),
           "runs": ("seed", "size")})
    return table


def image_note(metrics: pd.DataFrame) -> str:
    """The feature spaces of the image table's FIDs, and why fid_inception is missing where it is."""
    notes = []
    for metric in ("fid_classifier", "fid_inception"):
        rows = metrics[metrics["metric"] == metric]
        if rows.empty:
            continue
        params = json.loads(rows["params"].iloc[0])
        notes.append(f" {metric}: {params.get('feature_space', '?')}" +
                     (f" — missing: {params['missing']}" if "missing" in params else ""))
    return "".join(f"\n\n-{n}" for n in notes)


LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
         "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "`": ""}


def latex_escape(text: str) -> str:
    return "".join(LATEX.get(ch, ch) for ch in text)


def write_table(table: pd.DataFrame, stem: Path, caption: str) -> None:
    """Markdown, LaTeX and CSV; a memorised run's mark (†) is explained below the Markdown table and in the
    LaTeX caption."""
    if table.empty:
        table = pd.DataFrame({"note": ["no runs of this kind in this profile"]})
    marked = table.astype(str).apply(lambda col: col.str.contains(MEMORISED_MARK, regex=False)).any(axis=None)
    note = MEMORISED_NOTE if marked else ""
    write_text(stem.with_suffix(".md"), f"{caption}\n\n{table.to_markdown()}\n" + (f"\n{note}\n" if note else ""))
    caption = f"{caption} {note}".strip()
    write_text(stem.with_suffix(".tex"), table.to_latex(caption=latex_escape(caption), escape=True))
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        table.to_csv(tmp)




def make_tables(root: Path, profile: str) -> None:
    metrics, runs = pd.read_csv(root / "metrics.csv"), pd.read_csv(root / "runs.csv")
    n = runs.groupby(["dataset", "setting", "method"]).size()
    most = int(n.max()) if len(n) else 0
    per_cell = (f"mean ± std over up to {most} seed{'s' * (most != 1)} per cell (a single seed's value alone); (k/n): k of the cell's n "
                f"seeds are trained (runs.csv: beats_floor and plateaued); the ceiling and floor rows are the "
                f"references of the same training sets; `runs` = runs evaluated / expected over the row's datasets "
                f"and seeds")
    for name, (datasets, names) in CLEAN_TABLES.items():
        write_table(clean_table(metrics, runs, datasets, names), root / "tables" / name,
                    f"Table `{name}` (profile {profile}, clean setting): {per_cell}. ↓: lower is better."
                    + (image_note(metrics) if name == "images" else
                       " mmd, fd: against a held-out sample of the true mixture, as large as the training set."))
    write_table(sweep_table(metrics, runs, "contaminated", ["hsr", "auc_contamination"]),
                root / "tables" / "contamination",
                f"Table `contamination` (profile {profile}): HSR and auc_contamination against the noise ratio "
                f"(paper Fig. 7, left); {per_cell}.")
    write_table(sweep_table(metrics, runs, "limited", ["auc", "kld"]), root / "tables" / "limited",
                f"Table `limited` (profile {profile}): density AUC and KLD against the training-set size (paper "
                f"Fig. 7, right); {per_cell}. ↓: lower is better.")
    write_table(paper_table(metrics, runs, pd.read_csv(RELEASED_SCORES)), root / "tables" / "paper",
                f"Table `paper` (profile {profile}, clean setting): the cells of the paper's synthetic table (Table 4) "
                f"that this profile ran; ours: mean ± std over the seeds, `trained`: k of the n seeds are trained. "
                f"↓: lower is better; mmd against a held-out sample of the true mixture; ours trained "
                f"{int(runs['iterations'].max()) if len(runs) else 0} iterations. {PAPER_NOTE}")
    write_table(runtime_table(runs), root / "tables" / "runtime",
                f"Table `runtime` (profile {profile}): training seconds per 1000 iterations (the loop alone, "
                f"train.json), wall seconds of the whole job and its peak resident memory (Snakemake benchmark), "
                f"mean ± std over runs.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite_config.add_arguments(parser)
    cfg, root = suite_config.from_arguments(parser.parse_args(argv))
    make_tables(root, cfg["profile"])


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
