"""Datasets of the suite (SPEC §3): the 2-D Gaussian mixtures and the training settings built from them.

`get(name)` returns a dataset object that knows its means, covariance, exact log-density, sampler and evaluation
grid; `datasets.settings` turns one into a stored training set (clean, contaminated, limited).
"""
from datasets.synthetic import DATASETS, GaussianMixture, get

__all__ = ["DATASETS", "GaussianMixture", "get"]
