"""Build and store one training set (datasets/settings.py, datasets/images.py):

    python -m datasets.make --dataset D --setting S --seed K --out FILE.npz [--path DIR]

2-D datasets store `x`, `is_noise` and `clean` (the clean training set: the grid's box and the reference of the
`_train` metrics); image datasets store uint8 pixels `x`, `labels`, `is_noise` and the held-out `x_test`, `y_test`
(`--path`: the local data directory of mnist / cifar10, config `images: paths:`).
"""
from __future__ import annotations

import argparse

import numpy as np

import datasets
from datasets import images
from datasets.settings import Setting, training_set
from methods.harness.io import atomic_path


def build(name: str, setting: str, seed: int, path: str | None = None) -> dict:
    """The arrays stored for (dataset, setting, seed), identity included."""
    parsed = Setting.parse(setting)
    if datasets.track(name) == "image":
        data = images.image_training_set(images.load(name, path), parsed, seed)
    else:
        data = training_set(datasets.get(name), parsed, seed)
    return {**data, "dataset": name, "setting": str(parsed), "seed": seed}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(datasets.names())}")
    parser.add_argument("--setting", default="clean", help="clean | contaminated-<r>[-<noise>] | limited-<n>")
    parser.add_argument("--seed", type=int, default=0, help="seed index")
    parser.add_argument("--path", default=None, help="data directory of an image dataset that needs one")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        if args.dataset not in datasets.names():
            raise ValueError(f"unknown dataset {args.dataset!r}; valid datasets: {', '.join(datasets.names())}")
        data = build(args.dataset, args.setting, args.seed, args.path)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **data)


if __name__ == "__main__":
    main()
