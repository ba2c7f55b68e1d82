"""Datasets of the suite: the 2-D Gaussian mixtures (datasets/synthetic.py), the image datasets
(datasets/images.py), and the training settings built from them (datasets/settings.py).

`get(name)` returns a 2-D dataset object that knows its means, covariance, exact log-density, sampler and evaluation
grid; `datasets.images` reads MNIST / CIFAR-10; `datasets.settings` turns either into a stored training set (clean,
contaminated, limited). Every dataset object has a `track`, "2d" or "image", which decides the networks, metrics
and figures of its runs; `track(name)` looks it up by name.
"""
from datasets import images
from datasets.images import IMAGE_DATASETS
from datasets.synthetic import DATASETS, GaussianMixture, get

TRACKS = ("2d", "image")


def dataset(name: str):
    """The dataset object called `name`: a 2-D mixture (datasets/synthetic.py) or an image dataset
    (datasets/images.py); an unknown name raises a ValueError that lists the valid ones."""
    if name in IMAGE_DATASETS:
        return images.get(name)
    if name in DATASETS:
        return get(name)
    raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(names())}")


def track(name: str) -> str:
    """The track of dataset `name`: "2d" (a Gaussian mixture) or "image"."""
    return dataset(name).track


def names() -> list[str]:
    """Every dataset name, 2-D then images."""
    return [*DATASETS, *IMAGE_DATASETS]


__all__ = ["DATASETS", "IMAGE_DATASETS", "TRACKS", "GaussianMixture", "dataset", "get", "names", "track"]
