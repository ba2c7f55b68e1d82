"""Figures from stored results (SPEC §5), seaborn, PNG + PDF in results/<profile>/figures/.

    python -m evaluation.figures --profile P [--results results]

* `samples`: generated samples of every method with a generator on each dataset (clean setting, seed 0), over the
  true mixture means (paper Fig. 3).
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
from methods import config as suite_config  # noqa: E402
from methods.io import atomic_path  # noqa: E402


def save(fig, stem: Path) -> None:
    for ext in ("png", "pdf"):
        with atomic_path(stem.with_suffix(f".{ext}")) as tmp:
            fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight")
    plt.close(fig)


def samples_figure(root: Path, runs: pd.DataFrame):
    """Grid of scatter plots: rows = datasets, columns = methods that produced samples."""
    ok = runs[(runs["setting"] == "clean") & (runs["seed"] == 0) & (runs["status"] == "ok")]
    panels = {}
    for r in ok.itertuples():
        path = root / "runs" / r.dataset / r.setting / r.method / "seed0" / "samples.npy"
        if path.exists() and len(x := np.load(path)):
            panels[(r.dataset, r.method)] = x
    names = sorted({d for d, _ in panels}, key=list(datasets.DATASETS).index)
    methods = sorted({m for _, m in panels})
    if not panels:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no generator samples in this profile", ha="center", va="center")
        ax.set_axis_off()
        return fig
    fig, axes = plt.subplots(len(names), len(methods), figsize=(2.6 * len(methods), 2.6 * len(names)),
                             squeeze=False)
    for i, d in enumerate(names):
        ds = datasets.get(d)
        for j, meth in enumerate(methods):
            ax = axes[i, j]
            if (d, meth) in panels:
                x = panels[(d, meth)]
                sns.scatterplot(x=x[:, 0], y=x[:, 1], s=3, alpha=0.4, linewidth=0, ax=ax, color="C0")
            ax.scatter(ds.means[:, 0], ds.means[:, 1], s=8, c="C3", marker="x", linewidths=0.8)
            lim = np.abs(ds.means).max() * 1.6
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal")
            if i == 0:
                ax.set_title(meth)
            if j == 0:
                ax.set_ylabel(d)
    fig.suptitle("Generated samples (blue) and mixture means (red ×), clean setting, seed 0")
    return fig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--results", default=str(suite_config.ROOT / "results"))
    args = parser.parse_args(argv)
    root = Path(args.results) / args.profile
    runs = pd.read_csv(root / "runs.csv")
    sns.set_theme(style="white", context="paper")
    save(samples_figure(root, runs), root / "figures" / "samples")


if __name__ == "__main__":
    main()
