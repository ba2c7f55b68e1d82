"""Figures from a profile's aggregates (SPEC §5), seaborn, PNG + PDF in results/<profile>/figures/:

* `samples_<dataset>`: generated samples of every method with a generator (clean setting, seed 0) beside the
  training data, mixture means marked (paper Fig. 3); on image datasets, grids of generated images beside real
  ones;
* `density_<dataset>`: the true density and every energy model's density exp(−E), each relative to its maximum on
  the grid (paper Fig. 4);
* `curves`: MMD learning curves, mean over seeds with the band between the lowest and highest seed (a ±std band
  would cross zero on the log scale), per dataset and method family (paper Fig. 5);
* `robustness`: HSR against the noise ratio (contamination) and density AUC against the training-set size
  (limited data), mean ± std over seeds (paper Fig. 7).

Made from curves.csv, metrics.csv and figure_data.npz only (evaluation/aggregate.py), so `snakemake figures`
redraws them without training.

    python -m evaluation.figures --profile P [--results results]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

import datasets  # noqa: E402
from evaluation.tables import setting_value  # noqa: E402
from methods import config as suite_config  # noqa: E402
from methods.io import atomic_path  # noqa: E402

FAMILIES = {  # the panels of the learning-curve figure
    "GAN family": ["gan", "gan_lr", "gan_er", "gan_va", "joint_js"],
    "WGAN family": ["wgan_gp", "wgan_lr", "wgan_er", "wgan_va", "joint_w", "joint_w_nobridge"],
    "energy-based": ["egan", "dgm", "ebm_langevin"],
}
NAMES = {"two_circle": "Two-Circle", "two_spiral": "Two-Spiral", "ring8": "ring8", "grid25": "grid25"}


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
    """{method: key prefix} of figure_data entries of `kind` (samples, density) on `dataset`."""
    out = {}
    for key in data.files:
        parts = key.split("/")
        if parts[0] == kind and parts[1] == dataset:
            out[parts[2]] = "/".join(parts[:3])
    return dict(sorted(out.items()))


def image_grid_figure(data, dataset: str, real: np.ndarray):
    """One panel per method: an 8 × 8 mosaic of generated images (uint8), beside held-out real images."""
    panels = entries(data, "samples", dataset)
    fig, axes = grid_axes(len(panels) + 1, ncols=4, size=2.6)
    for ax, (title, x) in zip(axes, [("real (held-out)", real)] + [(m, data[k]) for m, k in panels.items()]):
        x = x[:64]
        n, c, h, w = x.shape
        side = int(np.ceil(np.sqrt(n)))
        mosaic = np.zeros((c, side * h, side * w), dtype=np.uint8)
        for i, img in enumerate(x):
            r, q = divmod(i, side)
            mosaic[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = img
        ax.imshow(mosaic[0] if c == 1 else mosaic.transpose(1, 2, 0), cmap="gray" if c == 1 else None)
        ax.set(title=title, xticks=[], yticks=[])
        ax.grid(False)
    fig.suptitle(f"{dataset}: generated images (clean setting, seed 0)")
    return fig


def samples_figure(data, dataset: str, clean: np.ndarray | None):
    ds = datasets.get(dataset)
    panels = entries(data, "samples", dataset)
    fig, axes = grid_axes(len(panels) + 1)
    lim = np.abs(ds.means).max() * 1.6
    for ax, (title, x) in zip(axes, [("training data", clean)] + [(m, data[k]) for m, k in panels.items()]):
        if x is not None:
            sns.scatterplot(x=x[:, 0], y=x[:, 1], s=3, alpha=0.4, linewidth=0, ax=ax, color="C0",
                            label="samples" if ax is axes[0] else None, legend=False)
        ax.scatter(ds.means[:, 0], ds.means[:, 1], s=8, c="C3", marker="x", linewidths=0.8,
                   label="mixture means" if ax is axes[0] else None)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title, xlabel="$x_1$", ylabel="$x_2$")
        ax.label_outer()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=2, markerscale=3)
    fig.suptitle(f"{NAMES[dataset]}: generated samples (clean setting, seed 0)")
    return fig


def density_figure(data, dataset: str):
    ds = datasets.get(dataset)
    panels = entries(data, "density", dataset)
    fig, axes = grid_axes(len(panels) + 1, ncols=4, size=2.6)
    first = data[next(iter(panels.values())) + "/grid_x"], data[next(iter(panels.values())) + "/grid_y"]
    gx, gy = first
    true = ds.density(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    images = [("true density", true / true.max())]
    for m, k in panels.items():
        e = data[k + "/energy"].astype(np.float64)
        images.append((m, np.exp(-(e - e.min()))))  # exp(−E) relative to its maximum on the grid
    for ax, (title, img) in zip(axes, images):
        mesh = ax.pcolormesh(gx, gy, img, cmap="viridis", shading="auto", rasterized=True, vmin=0, vmax=1)
        ax.set(aspect="equal", title=title, xlabel="$x_1$", ylabel="$x_2$")
        ax.label_outer()
    fig.colorbar(mesh, ax=list(axes), shrink=0.6, label="density / its maximum on the grid")
    fig.suptitle(f"{NAMES[dataset]}: model densities exp(−E) (clean setting, seed 0)")
    return fig


def curves_figure(curves: pd.DataFrame):
    df = curves[(curves["setting"] == "clean") & curves["dataset"].isin(["two_circle", "two_spiral"])]
    df = df.dropna(subset=["mmd"]) if "mmd" in df else df.iloc[0:0]
    present = [(d, fam) for d in ["two_circle", "two_spiral"] for fam, ms in FAMILIES.items()
               if not df[(df["dataset"] == d) & df["method"].isin(ms)].empty]
    if not present:
        return placeholder("no learning curves in this profile")
    datasets_ = sorted({d for d, _ in present}, key=list(NAMES).index)
    fams = [f for f in FAMILIES if any(f == g for _, g in present)]
    fig, axes = plt.subplots(len(datasets_), len(fams), figsize=(4.2 * len(fams), 3.2 * len(datasets_)),
                             squeeze=False, sharex=True)
    for i, d in enumerate(datasets_):
        for j, fam in enumerate(fams):
            ax = axes[i, j]
            sub = df[(df["dataset"] == d) & df["method"].isin(FAMILIES[fam])]
            if not sub.empty:
                sns.lineplot(data=sub, x="iteration", y="mmd", hue="method", errorbar=("pi", 100), ax=ax,
                             hue_order=[m for m in FAMILIES[fam] if m in set(sub["method"])])
                ax.set_yscale("log")
                ax.legend(title=None, fontsize=7)
            ax.set(title=f"{NAMES[d]}: {fam}", xlabel="iteration", ylabel="MMD² (log scale)")
    fig.suptitle("MMD against iteration: mean over seeds, band from the lowest to the highest seed (clean setting)")
    fig.tight_layout()
    return fig


def robustness_figure(metrics: pd.DataFrame):
    panels = [("contaminated", "hsr", "noise ratio r", "HSR", "contamination (Two-Circle)"),
              ("limited", "auc", "training-set size n", "density AUC", "limited data (Two-Spiral)")]
    panels = [p for p in panels if not metrics[metrics["setting"].str.startswith(p[0]) &
                                               (metrics["metric"] == p[1])].empty]
    if not panels:
        return placeholder("no contaminated or limited-data runs in this profile")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (kind, metric, xlabel, ylabel, title) in zip(axes[0], panels):
        df = metrics[metrics["setting"].str.startswith(kind) & (metrics["metric"] == metric)].copy()
        df[xlabel] = df["setting"].map(setting_value)
        sns.lineplot(data=df, x=xlabel, y="value", hue="method", style="method", markers=True, dashes=False,
                     errorbar="sd", ax=ax)
        ax.set(title=title, ylabel=ylabel)
        ax.legend(title=None)
    fig.suptitle("Robustness: mean ± 1 std over seeds")
    fig.tight_layout()
    return fig


def real_images(cfg: dict, dataset: str, n: int = 64) -> np.ndarray:
    """The first n held-out test images of an image dataset (uint8), for comparison beside the generated ones."""
    from datasets import images

    return images.load(dataset, cfg["images"]["paths"].get(dataset)).x_test[:n]


def figure_names(cfg: dict) -> list[str]:
    """The figures this profile draws (Snakefile outputs), without extension."""
    names = ["curves", "robustness"]
    seen = {d for exp in cfg["experiments"].values() for d in exp["datasets"] if "clean" in exp["settings"]}
    for d in sorted(seen, key=datasets.names().index):
        names += [f"samples_{d}"] + ([] if datasets.is_image(d) else [f"density_{d}"])
    return names


def make_figures(root: Path, cfg: dict) -> None:
    sns.set_theme(style="whitegrid", context="paper")
    metrics = pd.read_csv(root / "metrics.csv")
    curves = pd.read_csv(root / "curves.csv")
    out = root / "figures"
    with np.load(root / "figure_data.npz") as data:
        for name in figure_names(cfg):
            kind, _, dataset = name.partition("_")
            if kind == "samples" and not entries(data, "samples", dataset):
                fig = placeholder(f"no generator samples on {dataset}")
            elif kind == "samples" and datasets.is_image(dataset):
                fig = image_grid_figure(data, dataset, real_images(cfg, dataset))
            elif kind == "samples":
                fig = samples_figure(data, dataset, datasets.get(dataset).sample(1000, np.random.default_rng(0)))
            elif kind == "density":
                fig = density_figure(data, dataset) if entries(data, "density", dataset) else \
                    placeholder(f"no energy models on {dataset}")
            elif name == "curves":
                fig = curves_figure(curves)
            else:
                fig = robustness_figure(metrics)
            save(fig, out / name)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--results", default=str(suite_config.ROOT / "results"))
    args = parser.parse_args(argv)
    make_figures(Path(args.results) / args.profile, suite_config.load(args.profile))


if __name__ == "__main__":
    main()
