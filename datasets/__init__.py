"""Datasets of the suite (SPEC §3, §4.4): the 2-D Gaussian mixtures, the image datasets, and the training settings
built from them.

`get(name)` returns a 2-D dataset object that knows its means, covariance, exact log-density, sampler and evaluation
grid; `datasets.images` reads MNIST / CIFAR-10; `datasets.settings` turns either into a stored training set (clean,
contaminated, limited).
"""
from datasets.images import IMAGE_DATASETS
from datasets.synthetic import DATASETS, GaussianMixture, get


def is_image(name: str) -> bool:
    """Whether `name` is an image dataset (datasets/images.py) rather than a 2-D mixture."""
    return name in IMAGE_DATASETS


def names() -> list[str]:
    """Every dataset name, 2-D then images."""
    return [*DATASETS, *IMAGE_DATASETS]


__all__ = ["DATASETS", "IMAGE_DATASETS", "GaussianMixture", "get", "is_image", "names"]
