"""The 2-D synthetic datasets: equal-weight isotropic Gaussian mixtures that know their ground truth.

| name | K means | variance σ² | training points | τ (HSR, AUC box) | density threshold |
| --- | --- | --- | --- | --- | --- |
| `two_circle` | 24: 8 at radius 4 (angles 2πk/8), 16 at radius 8 (angles 2πk/16) | 0.2 | 2000 | 1.0 | 0.1 |
| `two_spiral` | 100: 50 per arm (below) | 0.1 | 5000 | 0.5 | 0.5 |
| `ring8` | 8 on the unit circle (angles 2πk/8) | 0.01² | 2000 | 0.03 (3σ) | 0.1 |
| `grid25` | 25 on {−4, −2, 0, 2, 4}² | 0.05² | 2000 | 0.15 (3σ) | 0.1 |

Two-Spiral's means: with c_j = 2π/3 + 2π t_j, t_j = linspace(0, 0.5, 50), arm 1 at (−c_j cos c_j, c_j sin c_j) and
arm 2 at (c_j cos c_j, −c_j sin c_j).

Two-Circle and Two-Spiral are the paper's synthetic datasets, as in the authors' released data (validated in
tests/test_reference.py against the released training sets and grid densities); Two-Spiral's variance is the
released data's 0.1 (the paper's text says 0.5). ring8 and grid25 go beyond the paper: the community's
mode-collapse benchmarks (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018). A generator is evaluated on as
many generated points as the clean training set has (`n_eval`). Every dataset object knows its means, covariance,
exact log-density and score, a sampler and its evaluation grid: 300 × 300 points over the training data's bounding
box widened by 50% of the half-range on each side. The metrics that use τ, the grid and the threshold are defined
in evaluation/metrics2d.py; the training settings built from these datasets in datasets/settings.py.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import numpy as np
from scipy.special import logsumexp

GRID_SIZE = 300  # the evaluation grid is 300 x 300 points (the released evaluation code's)
GRID_WIDEN = 0.5  # the bounding box is widened by 50% of its half-range on each side


@dataclasses.dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight mixture  p(x) = (1/K) Σ_k N(x; μ_k, σ²I).

    `tau` is the radius that defines a high-quality sample (HSR) and the half-width of the AUC's negative boxes
    (evaluation/metrics2d.py); `density_threshold` the fraction of the maximum used by `mode_coverage_density`;
    `n_train` the size of the clean training set; `n_eval` the number of generated samples evaluated.
    """

    track: ClassVar[str] = "2d"  # which metrics, networks and figures apply: "2d" here, "image" in datasets/images.py
    name: str
    means: np.ndarray  # (K, 2)
    variance: float  # σ², the same in every direction
    n_train: int
    tau: float
    n_eval: int
    density_threshold: float = 0.1

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def std(self) -> float:
        return float(np.sqrt(self.variance))

    @property
    def covariance(self) -> np.ndarray:
        return self.variance * np.eye(self.dim)

    def _sq_dist(self, x: np.ndarray) -> np.ndarray:
        """‖x_i − μ_k‖² as ‖x‖² − 2xᵀμ + ‖μ‖² (one matrix product: the 300 × 300 grid against 100 means would
        otherwise build an n × K × d array); clipped at 0 against round-off."""
        x = np.asarray(x, dtype=np.float64)
        sq = (x * x).sum(1)[:, None] - 2 * x @ self.means.T + (self.means ** 2).sum(1)[None, :]
        return np.maximum(sq, 0.0)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Exact log p(x) for points x of shape (n, d), computed stably with log-sum-exp over components."""
        sq = self._sq_dist(x)  # (n, K)
        log_norm = -0.5 * self.dim * np.log(2 * np.pi * self.variance)
        return logsumexp(-0.5 * sq / self.variance, axis=1) + log_norm - np.log(len(self.means))

    def density(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_density(x))

    def score(self, x: np.ndarray) -> np.ndarray:
        """Exact ∇_x log p(x): the responsibility-weighted pull towards the means, (Σ_k r_k μ_k − x) / σ²."""
        x = np.asarray(x, dtype=np.float64)
        logits = -0.5 * self._sq_dist(x) / self.variance
        resp = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        return (resp @ self.means - x) / self.variance

    def sample(self, n: int, rng: np.random.Generator, return_components: bool = False):
        """n i.i.d. samples; components drawn uniformly, then isotropic Gaussian noise."""
        k = rng.integers(len(self.means), size=n)
        x = self.means[k] + self.std * rng.standard_normal((n, self.dim))
        return (x, k) if return_components else x

    def grid(self, samples: np.ndarray, size: int = GRID_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """The evaluation grid over the bounding box of `samples`, widened by 50% of the half-range on
        each side; returns (grid_x, grid_y), each (size, size), x varying along columns (numpy 'xy' meshgrid)."""
        return evaluation_grid(samples, size)


def evaluation_grid(samples: np.ndarray, size: int = GRID_SIZE) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = samples.min(0), samples.max(0)
    pad = GRID_WIDEN * (hi - lo) / 2
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], size)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], size)
    return np.meshgrid(xs, ys)


def _two_circle() -> GaussianMixture:
    """24 modes: 8 at radius 4 (angles 2πk/8), 16 at radius 8 (2πk/16); σ² = 0.2; 2000 samples; τ = 1."""
    inner = [4 * np.array([np.cos(a), np.sin(a)]) for a in 2 * np.pi * np.arange(8) / 8]
    outer = [8 * np.array([np.cos(a), np.sin(a)]) for a in 2 * np.pi * np.arange(16) / 16]
    return GaussianMixture("two_circle", np.array(inner + outer), 0.2, n_train=2000, tau=1.0, n_eval=2000,
                           density_threshold=0.1)


def _two_spiral() -> GaussianMixture:
    """100 modes, 50 per arm: c_j = 2π/3 + 2π t_j, t_j = linspace(0, 0.5, 50); arm 1 at (−c cos c, c sin c), arm 2
    at (c cos c, −c sin c). σ² = 0.1 (the released data; the paper's text says 0.5); 5000 samples; τ = 0.5."""
    c = 2 * np.pi / 3 + 2 * np.pi * np.linspace(0, 0.5, 50)
    arm = np.stack([-c * np.cos(c), c * np.sin(c)], axis=1)
    return GaussianMixture("two_spiral", np.concatenate([arm, -arm]), 0.1, n_train=5000, tau=0.5, n_eval=5000,
                           density_threshold=0.5)


def _ring8() -> GaussianMixture:
    """8 modes on the unit circle, std 0.01; τ = 3 std (VEEGAN/PacGAN)."""
    a = 2 * np.pi * np.arange(8) / 8
    return GaussianMixture("ring8", np.stack([np.cos(a), np.sin(a)], axis=1), 0.01 ** 2, n_train=2000,
                           tau=0.03, n_eval=2000, density_threshold=0.1)


def _grid25() -> GaussianMixture:
    """25 modes on {−4, −2, 0, 2, 4}², std 0.05; τ = 3 std (VEEGAN/PacGAN)."""
    g = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    return GaussianMixture("grid25", means, 0.05 ** 2, n_train=2000, tau=0.15, n_eval=2000, density_threshold=0.1)


DATASETS: dict[str, Callable[[], GaussianMixture]] = {
    "two_circle": _two_circle,
    "two_spiral": _two_spiral,
    "ring8": _ring8,
    "grid25": _grid25,
}


def get(name: str) -> GaussianMixture:
    """The dataset called `name`; an unknown name raises a ValueError that lists the valid ones."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]()
