"""Figures from a profile's aggregates (README, "What you get"), seaborn, PNG + PDF in results/<profile>/figures/:

Every 2-D figure shows the references of evaluation/references.py: the ceiling (the true mixture) and the floor (a
Gaussian fitted to the training set); image grids show real training images and uniform noise.

* `samples_<dataset>`: generated samples of every method with a generator (clean setting, first seed) beside the
  ceiling's and the floor's, mixture means marked (paper Fig. 3); on image datasets, grids of generated images
  beside real ones and noise;
* `density_<dataset>`: every energy model's density exp(−E), each relative to its maximum on the grid, beside the
  true and the fitted Gaussian density (paper Fig. 4);
* `convergence_<dataset>` (2-D): the paper's metrics (MMD, HSR, modes covered, KLD, AUC) against iteration, mean ±
  1 std over seeds, one row of panels per kind of method, the references as lines: the evidence that a run is
  trained (evaluation/trained.py);
* `curves`: MMD learning curves, mean over seeds with the band between the lowest and highest seed, per dataset
  and kind of method (paper Fig. 5);
* `robustness`: HSR against the noise ratio (contamination) and density AUC against the training-set size
  (limited data), mean ± std over seeds, with the references of each training set (paper Fig. 7).

A method's kind (implicit, explicit, joint: `methods.KINDS`) comes from runs.csv, else from the method registry
(`method_kinds`), so the figures need no list of method names: a new method or a preset variant appears by itself.

Made from curves.csv, metrics.csv, runs.csv and figure_data.npz only (evaluation/aggregate.py), so
`snakemake figures` redraws them without training.

    python -m evaluation.figures --config results/<profile>/config.yaml [--dir results/<profile>]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

import datasets  # noqa: E402
from evaluation.outputs import figure_names  # noqa: E402  (the names, without drawing: the Snakefile's)
from evaluation.tables import IMAGE_REFERENCE_LABELS, REFERENCE_LABELS, setting_value  # noqa: E402
from evaluation.trained import REFERENCES  # noqa: E402
import methods  # noqa: E402
from methods import KINDS  # noqa: E402
from methods.harness import config as suite_config  # noqa: E402
from methods.harness.io import atomic_path  # noqa: E402

CURVE_DATASETS = ("two_circle", "two_spiral")  # the MMD learning curves of paper Fig. 5
NAMES = {"two_circle": "Two-Circle", "two_spiral": "Two-Spiral", "ring8": "ring8", "grid25": "grid25"}
REFERENCE_STYLE = {"ceiling": ("black", "--"), "floor": ("0.45", ":")}  # colour, line style
# Metrics drawn on a logarithmic axis, each with the value below which it is drawn at that value (and the figure
# says so). MMD²: the unbiased estimate of a near-perfect sampler (the ceiling) is ≈ 0 of either sign, and 1e-4 is the
# estimator's noise at 2000 points. KLD: the ceiling's is 0 up to rounding, trained energies reach 0.1-1 and a
# collapsed one 10 or more (dgm), which on a linear axis flattens every other curve of its panel.
LOG_FLOORS = {"mmd": 1e-4, "kld": 1e-2}
MMD_NOTE = f"MMD² on a log axis, values below {LOG_FLOORS['mmd']:g} drawn at {LOG_FLOORS['mmd']:g}"
LOG_NOTE = (f"MMD² and KLD on log axes, values below {LOG_FLOORS['mmd']:g} and {LOG_FLOORS['kld']:g} drawn at "
            f"those values")


def floored(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves with each metric of LOG_FLOORS clipped from below at its floor, for a logarithmic axis."""
    return curves.assign(**{m: curves[m].clip(lower=low) for m, low in LOG_FLOORS.items() if m in curves})


def save(fig, stem: Path) -> list[Path]:
    out = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def placeholder(text: str):
    fig, ax = plt.subplots(figsize=(5, 1.5))
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.set_axis_off()
    return fig


def grid_axes(n: int, ncols: int = 5, size: float = 2.4):
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(size * min(n, ncols), size * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    return fig, axes.ravel()


def entries(data, kind: str, dataset: str) -> dict[str, str]:
    """{method: key prefix} of figure_data entries of `kind` (samples, density) on `dataset`: the references
    (ceiling, floor) first, then the methods in alphabetical order."""
    out = {}
    for key in data.files:
        parts = key.split("/")
        if parts[0] == kind and parts[1] == dataset:
            out[parts[2]] = "/".join(parts[:3])
    order = {m: i for i, m in enumerate(REFERENCES)}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def title(method: str, image: bool = False) -> str:
    return (IMAGE_REFERENCE_LABELS if image else REFERENCE_LABELS).get(method, method)


def image_grid_figure(data, dataset: str):
    """One panel per reference (real training images, uniform noise) and method: an 8 × 8 mosaic of images."""
    panels = entries(data, "samples", dataset)
    fig, axes = grid_axes(len(panels), ncols=4, size=2.6)
    for ax, (method, key) in zip(axes, panels.items()):
        x = data[key][:64]
        n, c, h, w = x.shape
        side = int(np.ceil(np.sqrt(n)))
        mosaic = np.zeros((c, side * h, side * w), dtype=np.uint8)
        for i, img in enumerate(x):
            r, q = divmod(i, side)
            mosaic[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = img
        ax.imshow(mosaic[0] if c == 1 else mosaic.transpose(1, 2, 0), cmap="gray" if c == 1 else None)
        ax.set(title=title(method, image=True), xticks=[], yticks=[])
        ax.grid(False)
    fig.suptitle(f"{dataset}: generated images (clean setting, first seed)")
    return fig


def samples_figure(data, dataset: str):
    """Generated samples of every method beside the ceiling's (the true mixture) and the floor's (a Gaussian
    fitted to the training set), mixture means marked (paper Fig. 3). A panel whose samples fall partly outside the
    common view says how many, so that a generator that ran off (an empty panel) is not read as one with no
    samples."""
    ds = datasets.get(dataset)
    panels = entries(data, "samples", dataset)
    fig, axes = grid_axes(len(panels))
    lim = np.abs(ds.means).max() * 1.6
    marker = min(8.0, 200.0 / len(ds.means))  # Two-Spiral's 100 means at full size would hide the samples on them
    for ax, (method, key) in zip(axes, panels.items()):
        x = data[key]
        sns.scatterplot(x=x[:, 0], y=x[:, 1], s=3, alpha=0.4, linewidth=0, ax=ax, color="C0",
                        label="samples" if ax is axes[0] else None, legend=False)
        ax.scatter(ds.means[:, 0], ds.means[:, 1], s=marker, c="C3", marker="x", linewidths=0.8,
                   label="mixture means" if ax is axes[0] else None)
        outside = int((np.abs(x) > lim).any(axis=1).sum())
        if outside:
            ax.text(0.5, 0.03, f"{outside} of {len(x)} outside the view", transform=ax.transAxes, ha="center",
                    fontsize=7, color="C3")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title(method), xlabel="$x_1$",
               ylabel="$x_2$")
        ax.label_outer()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=2, markerscale=3)
    fig.suptitle(f"{NAMES[dataset]}: generated samples (clean setting, first seed)")
    return fig


def density_figure(data, dataset: str):
    """Every energy model's density exp(−E) relative to its maximum on the grid, beside the ceiling's (the true
    density) and the floor's (the fitted Gaussian) (paper Fig. 4)."""
    panels = entries(data, "density", dataset)
    fig, axes = grid_axes(len(panels), ncols=4, size=2.6)
    for ax, (method, key) in zip(axes, panels.items()):
        gx, gy, e = (data[f"{key}/{k}"].astype(np.float64) for k in ("grid_x", "grid_y", "energy"))
        mesh = ax.pcolormesh(gx, gy, np.exp(-(e - e.min())), cmap="viridis", shading="auto", rasterized=True,
                             vmin=0, vmax=1)
        ax.set(aspect="equal", title=title(method), xlabel="$x_1$", ylabel="$x_2$")
        ax.label_outer()
    fig.colorbar(mesh, ax=list(axes), shrink=0.6, label="density / its maximum on the grid")
    fig.suptitle(f"{NAMES[dataset]}: model densities exp(−E) (clean setting, first seed)")
    return fig


def reference_lines(ax, values: dict, horizontal: bool = True) -> None:
    """The ceiling (dashed) and the floor (dotted) on `ax`: {reference: value} as horizontal lines, or
    {reference: (x, y)} as lines over x."""
    for ref, style in REFERENCE_STYLE.items():
        if ref not in values:
            continue
        if horizontal:
            if np.isfinite(values[ref]):
                ax.axhline(values[ref], color=style[0], ls=style[1], lw=1.2, label=REFERENCE_LABELS[ref])
        else:
            x, y = values[ref]
            ax.plot(x, y, color=style[0], ls=style[1], lw=1.2, marker=".", label=REFERENCE_LABELS[ref])


def reference_means(curves: pd.DataFrame, dataset: str, metric: str, setting: str = "clean") -> dict:
    """{reference: mean over seeds} of a learning-curve metric's reference rows."""
    if metric not in curves:
        return {}
    sub = curves[(curves["dataset"] == dataset) & (curves["setting"] == setting) & curves["method"].isin(REFERENCES)]
    return sub.groupby("method")[metric].mean().dropna().to_dict()


def method_kinds(runs: pd.DataFrame, names) -> dict[str, str]:
    """{method: kind} for each of `names`: implicit, explicit or joint (methods.KINDS), as runs.csv records it
    (training writes the method class's `kind`); for a method runs.csv does not list, the registry's
    `methods.get(name).kind` (a variant `name@preset` is of `name`'s kind); "other" when neither knows it."""
    recorded = {}
    if "kind" in runs:
        known = runs.dropna(subset=["kind"]).drop_duplicates("method")
        recorded = dict(zip(known["method"], known["kind"]))
    out = {}
    for name in names:
        kind = recorded.get(name)
        if not kind:
            try:
                kind = methods.get(name).kind
            except (ValueError, TypeError):  # not a registered method
                kind = None
        out[name] = kind if kind in KINDS else "other"
    return out


def kind_rows(kind_of: dict[str, str]) -> list[str]:
    """The kinds present in `kind_of`, in the order of methods.KINDS, "other" last."""
    return [k for k in (*KINDS, "other") if k in set(kind_of.values())]


def curves_figure(curves: pd.DataFrame, runs: pd.DataFrame):
    """MMD against iteration on Two-Circle and Two-Spiral (clean setting; paper Fig. 5): one row per dataset, one
    column per kind of method (`method_kinds`), one line per method with a generator (mean over seeds, band from
    the lowest to the highest seed), the ceiling and the floor as lines. A method's colour is the same in every
    row; the rows share their MMD axis, so the kinds compare across a row."""
    curves = floored(curves)
    df = curves[(curves["setting"] == "clean") & curves["dataset"].isin(CURVE_DATASETS)
                & ~curves["method"].isin(REFERENCES)]
    df = df.dropna(subset=["mmd"]) if "mmd" in df else df.iloc[0:0]
    if df.empty:
        return placeholder("no learning curves in this profile")
    df = df.assign(kind=df["method"].map(method_kinds(runs, df["method"].unique())))
    kinds = kind_rows(dict(zip(df["method"], df["kind"])))
    datasets_ = [d for d in CURVE_DATASETS if d in set(df["dataset"])]
    fig, axes = plt.subplots(len(datasets_), len(kinds), figsize=(4.4 * len(kinds), 3.0 * len(datasets_)),
                             squeeze=False, sharex=True, sharey="row")
    for j, kind in enumerate(kinds):
        names = sorted(df.loc[df["kind"] == kind, "method"].unique())
        palette = dict(zip(names, sns.color_palette("tab10", n_colors=len(names))))
        for i, d in enumerate(datasets_):
            ax = axes[i, j]
            sub = df[(df["dataset"] == d) & (df["kind"] == kind)]
            if not sub.empty:
                sns.lineplot(data=sub, x="iteration", y="mmd", hue="method", errorbar=("pi", 100), ax=ax,
                             palette=palette, hue_order=[m for m in names if m in set(sub["method"])], legend=False)
            reference_lines(ax, reference_means(curves, d, "mmd"))
            ax.set_yscale("log")
            ax.set(title=f"{NAMES[d]}: {kind} methods", xlabel="iteration", ylabel="MMD² (log)")
        handles = [Line2D([], [], color=palette[m], label=m) for m in names] + [
            Line2D([], [], color=c, ls=ls, label=REFERENCE_LABELS[ref]) for ref, (c, ls) in REFERENCE_STYLE.items()]
        axes[-1, j].legend(handles=handles, fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    fig.suptitle("MMD against iteration by kind of method: mean over seeds, band from the lowest to the highest "
                 f"seed (clean setting); {MMD_NOTE}")
    fig.tight_layout()
    return fig


CONVERGENCE_METRICS = {"mmd": "MMD² ↓ (log)", "hsr": "HSR", "modes_covered": "modes covered",
                       "kld": "KLD ↓ (grid 100², log)", "auc": "AUC"}


def convergence_figure(curves: pd.DataFrame, runs: pd.DataFrame, dataset: str, curve_samples: int | None = None):
    """The paper's metrics against iteration on `dataset` (clean setting): one row of panels per kind of method
    (implicit, explicit, joint), one column per metric, mean ± 1 std over seeds, the ceiling and the floor as
    lines. Whether a run is trained is judged on these curves (evaluation/trained.py). `curve_samples`: the
    generated points per curve row (config `training: curve_samples`), stated where it differs from the tables'."""
    curves = floored(curves)
    df = curves[(curves["dataset"] == dataset) & (curves["setting"] == "clean") & ~curves["method"].isin(REFERENCES)]
    kind_of = method_kinds(runs[(runs["dataset"] == dataset) & (runs["setting"] == "clean")], df["method"].unique())
    metrics = [m for m in CONVERGENCE_METRICS if m in df and df[m].notna().any()]
    rows = kind_rows(kind_of)
    if not metrics or not rows:
        return placeholder(f"no learning curves on {dataset} in this profile")
    fig, axes = plt.subplots(len(rows), len(metrics), figsize=(3.3 * len(metrics), 2.7 * len(rows)),
                             squeeze=False, sharex=True)
    for i, kind in enumerate(rows):
        sub = df[df["method"].map(kind_of) == kind]
        names = sorted(sub["method"].unique())
        palette = dict(zip(names, sns.color_palette(n_colors=len(names))))  # one colour per method across the row
        for j, metric in enumerate(metrics):
            ax = axes[i, j]
            data = sub.dropna(subset=[metric])
            if data.empty:
                ax.set_axis_off()
                continue
            sns.lineplot(data=data, x="iteration", y=metric, hue="method", errorbar="sd", ax=ax, palette=palette,
                         hue_order=[m for m in names if m in set(data["method"])], legend=False)
            reference_lines(ax, reference_means(curves, dataset, metric))
            if metric in LOG_FLOORS:
                ax.set_yscale("log")
            ax.set(title=f"{kind}: {CONVERGENCE_METRICS[metric]}", ylabel=None)
        handles = [Line2D([], [], color=palette[m], label=m) for m in names] + [
            Line2D([], [], color=c, ls=ls, label=REFERENCE_LABELS[ref]) for ref, (c, ls) in REFERENCE_STYLE.items()]
        axes[i, -1].legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    n_eval = datasets.get(dataset).n_eval
    sampled = (f"\neach curve row scores {curve_samples} generated points (the tables: {n_eval}), so its HSR, modes "
               f"and MMD² read noisier, and modes lower" if curve_samples and curve_samples != n_eval else "")
    fig.suptitle(f"{NAMES[dataset]}: metrics against iteration, mean ± 1 std over seeds (clean setting); dashed: "
                 f"ceiling (true mixture), dotted: floor (Gaussian fit); {LOG_NOTE}{sampled}")
    fig.tight_layout()
    return fig


def robustness_figure(metrics: pd.DataFrame):
    panels = [("contaminated", "hsr", "noise ratio r", "HSR", "contamination (Two-Circle)"),
              ("limited", "auc", "training-set size n", "density AUC", "limited data (Two-Spiral)")]
    runs_of = metrics[~metrics["method"].isin(REFERENCES)]
    panels = [p for p in panels if not runs_of[runs_of["setting"].str.startswith(p[0]) &
                                               (runs_of["metric"] == p[1])].empty]
    if not panels:
        return placeholder("no contaminated or limited-data runs in this profile")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (kind, metric, xlabel, ylabel, name) in zip(axes[0], panels):
        df = metrics[metrics["setting"].str.startswith(kind) & (metrics["metric"] == metric)].copy()
        df[xlabel] = df["setting"].map(setting_value)
        methods = df[~df["method"].isin(REFERENCES)]
        sns.lineplot(data=methods, x=xlabel, y="value", hue="method", style="method", markers=True, dashes=False,
                     errorbar="sd", ax=ax)
        refs = df[df["method"].isin(REFERENCES) & df["dataset"].isin(methods["dataset"])]
        means = refs.groupby(["method", xlabel])["value"].mean()
        reference_lines(ax, {ref: (means[ref].index, means[ref].to_numpy()) for ref in REFERENCES
                             if ref in means.index.get_level_values(0)}, horizontal=False)
        ax.set(title=name, ylabel=ylabel)
        ax.legend(title=None, fontsize=7)
    fig.suptitle("Robustness: mean ± 1 std over seeds; dashed: ceiling (true mixture), dotted: floor (Gaussian fit "
                 "to each training set)")
    fig.tight_layout()
    return fig


def make_figures(root: Path, cfg: dict) -> None:
    sns.set_theme(style="whitegrid", context="paper")
    metrics = pd.read_csv(root / "metrics.csv")
    curves = pd.read_csv(root / "curves.csv")
    runs = pd.read_csv(root / "runs.csv")
    out = root / "figures"
    with np.load(root / "figure_data.npz") as data:
        for name in figure_names(cfg):
            kind, _, dataset = name.partition("_")
            if kind == "samples" and not entries(data, "samples", dataset):
                fig = placeholder(f"no generator samples on {dataset}")
            elif kind == "samples" and datasets.track(dataset) == "image":
                fig = image_grid_figure(data, dataset)
            elif kind == "samples":
                fig = samples_figure(data, dataset)
            elif kind == "density":
                fig = density_figure(data, dataset) if entries(data, "density", dataset) else \
                    placeholder(f"no energy models on {dataset}")
            elif kind == "convergence":
                fig = convergence_figure(curves, runs, dataset, cfg["training"]["curve_samples"])
            elif name == "curves":
                fig = curves_figure(curves, runs)
            else:
                fig = robustness_figure(metrics)
            save(fig, out / name)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite_config.add_arguments(parser)
    cfg, root = suite_config.from_arguments(parser.parse_args(argv))
    make_figures(root, cfg)


if __name__ == "__main__":
    main()
