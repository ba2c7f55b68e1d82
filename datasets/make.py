"""Build and store one training set:  python -m datasets.make --dataset D --setting S --seed K --out FILE.npz"""
from __future__ import annotations

import argparse

import numpy as np

import datasets
from datasets.settings import Setting, training_set
from methods.io import atomic_path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(datasets.DATASETS)}")
    parser.add_argument("--setting", default="clean", help="clean | contaminated-<r>[-<noise>] | limited-<n>")
    parser.add_argument("--seed", type=int, default=0, help="seed index")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        dataset, setting = datasets.get(args.dataset), Setting.parse(args.setting)
        data = training_set(dataset, setting, args.seed)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **data, dataset=dataset.name, setting=str(setting), seed=args.seed)


if __name__ == "__main__":
    main()
