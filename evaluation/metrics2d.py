"""2-D metrics, plain functions on arrays: the definitions of every 2-D number the suite reports.

Each function's docstring gives its definition; this docstring says how evaluation/evaluate.py applies them to a run
(the values land in metrics.json and metrics.csv, each with the parameters that define it). The paper's 2-D
metrics are those of its synthetic experiments (MMD, HSR, KLD, JSD, AUC); τ, the AUC's negatives and the density
threshold are the values of the authors' released evaluation code (github.com/qitianwu/SteinBridging), which
reproduce the paper's numbers. τ and the sample sizes of each dataset are in datasets/synthetic.py.

Generator (on the run's `n_eval` generated points: 2000 on Two-Circle, ring8, grid25; 5000 on Two-Spiral):
* `hsr`, high-quality sample rate: the fraction of generated points within distance τ of their nearest mixture
  mean (τ = 1 Two-Circle, 0.5 Two-Spiral, 3 standard deviations on ring8 / grid25 as in VEEGAN and PacGAN).
* `modes_covered`: the number of means that are the nearest mean of at least one high-quality point (VEEGAN,
  Srivastava et al. 2017); `modes_covered_frac` the same divided by the number of means.
* `mmd`: squared maximum mean discrepancy (Gretton et al. 2012) with the RBF kernel of bandwidth 1, unbiased
  estimator, generated points against the held-out truth: a fixed sample of the true mixture, as large as the
  clean training set, drawn from its own random stream per (dataset, seed index) and never a training point
  (evaluation/evaluate.py, `heldout_points`; the same in contaminated and limited settings), so that a generator
  that reproduces its training points cannot beat fresh draws of the truth. `mmd_train`: the same against the clean
  training set (the released code's comparison); `mmd_biased`: the biased estimator (all pairs, as released)
  against the clean training set.
* `fd`: the Fréchet distance between Gaussians fitted to the generated points and to the held-out truth, the 2-D
  analogue of FID (Heusel et al. 2017); `fd_train`: the same against the clean training set.
* `memorisation_z`: (mmd − mmd_train) / noise, with the noise of that gap under the permutation null of held-out
  and training points (`mmd_memorisation`); evaluation/trained.py flags a run `memorised` in runs.csv when it
  exceeds MEMORISED_Z.
* `mmd_spread` (stability late in training; the learning curves of paper Fig. 5): the standard deviation of a run's
  learning-curve MMD over its rows in the last 40% of training (each row: config `training: curve_samples`
  generated points against as many points of the held-out truth, its first ones; at least two rows).

Energy model (score −E, density exp(−E) up to its unknown normaliser):
* `kld`, `jsd`: KL(p ‖ q) and the Jensen-Shannon divergence on the evaluation grid (300 × 300 points over the clean
  training set's bounding box widened by 50% of its half-range on each side; 100 × 100 on learning-curve rows): p is
  the true density at the grid points, q = exp(−E) rescaled so that Σq = Σp; both clipped to [1e-7, 1e7];
  KLD = Σ p log(p/q) / Σ p, JSD = ½[Σ p log(p/m) + Σ q log(q/m)] / Σ p with m = (p + q)/2.
* `auc`: how well −E ranks the mixture means (positives) above 10 points per mean drawn uniformly in the square
  mean ± τ (negatives; drawn once per dataset and seed index, so every curve row of a run uses the same ones):
  ROC AUC (scikit-learn). It needs no normaliser. On Two-Spiral even the true density scores only about 0.77:
  the means lie so close along each arm that many negatives fall on the spiral's ridge.
* `mode_coverage_density` (released code): the fraction of means where exp(−E), relative to its maximum over the
  grid, exceeds t (t = 0.5 Two-Spiral, 0.1 elsewhere).
* `auc_contamination` (contaminated settings): how well −E ranks 1000 fresh clean points above 1000 fresh points of
  the setting's noise model (datasets/settings.py), i.e. whether the energy learnt to tell the noise apart.

Every number is also computed for the references of each training set, the ceiling (the true mixture) and the
floor (a Gaussian fitted to the training set), by the same code (evaluation/references.py; README, "Trained, not
merely run").
"""
from __future__ import annotations

import numpy as np
import torch

CLIP = (1e-7, 1e7)  # densities clipped to this range before KLD/JSD: log(p/q) stays finite where either is 0


def _nearest_mean(samples: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest mean, distance to it) for each sample."""
    d = np.sqrt(((np.asarray(samples)[:, None, :] - means[None]) ** 2).sum(-1))
    idx = d.argmin(1)
    return idx, d[np.arange(len(idx)), idx]


def hsr(samples: np.ndarray, means: np.ndarray, tau: float) -> float:
    """High-quality sample rate: the fraction of samples within distance τ of their nearest mean."""
    if len(samples) == 0:
        return float("nan")
    return float((_nearest_mean(samples, means)[1] <= tau).mean())


def modes_covered(samples: np.ndarray, means: np.ndarray, tau: float) -> int:
    """Number of means that are the nearest mean of at least one high-quality sample (VEEGAN)."""
    if len(samples) == 0:
        return 0
    idx, dist = _nearest_mean(samples, means)
    return int(len(np.unique(idx[dist <= tau])))


def rbf_kernel_rowsums(a: torch.Tensor, b: torch.Tensor, bandwidth: float, chunk: int = 1024) -> torch.Tensor:
    """Σ_j exp(−‖a_i − b_j‖²/(2h²)) for every row a_i, in row blocks with in-place ops (‖a‖² − 2abᵀ + ‖b‖²), so that
    5000 × 5000 pairs take a fraction of a second and little memory."""
    bb = (b * b).sum(1)[None, :]
    out = torch.empty(len(a), dtype=a.dtype)
    for i in range(0, len(a), chunk):
        ai = a[i:i + chunk]
        sq = torch.addmm(bb, ai, b.T, alpha=-2).add_((ai * ai).sum(1)[:, None]).clamp_min_(0)
        out[i:i + chunk] = sq.mul_(-0.5 / bandwidth ** 2).exp_().sum(1)
    return out


def rbf_kernel_sum(a: torch.Tensor, b: torch.Tensor, bandwidth: float, chunk: int = 1024) -> float:
    """Σ_ij exp(−‖a_i − b_j‖²/(2h²)) (`rbf_kernel_rowsums`, summed)."""
    return rbf_kernel_rowsums(a, b, bandwidth, chunk).sum().item()


def _float64(*arrays) -> list[torch.Tensor]:
    return [torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, dtype=torch.float64) for a in arrays]


def mmd_estimates(x, y, bandwidth: float = 1.0) -> dict[str, float]:
    """Squared MMD with the RBF kernel k(a, b) = exp(−‖a−b‖²/(2h²)), in float64, both estimators from one set of
    kernel sums: `unbiased` (within-sample means exclude the diagonal) and `biased` (all pairs; the released
    variant)."""
    x, y = _float64(x, y)
    n, m = len(x), len(y)
    kxx, kyy, kxy = (rbf_kernel_sum(a, b, bandwidth) for a, b in ((x, x), (y, y), (x, y)))
    # the diagonal k(a, a) = 1 of an RBF kernel: n terms in kxx, m in kyy
    return {"unbiased": (kxx - n) / (n * (n - 1)) + (kyy - m) / (m * (m - 1)) - 2 * kxy / (n * m),
            "biased": kxx / n ** 2 + kyy / m ** 2 - 2 * kxy / (n * m)}


def mmd(x, y, bandwidth: float = 1.0, unbiased: bool = True) -> float:
    """Squared MMD with the RBF kernel k(a, b) = exp(−‖a−b‖²/(2h²)). Unbiased: the within-sample means exclude the
    diagonal; biased (`unbiased=False`, the released variant): all pairs."""
    return mmd_estimates(x, y, bandwidth)["unbiased" if unbiased else "biased"]


def mmd_memorisation(x, heldout, train, bandwidth: float = 1.0) -> dict[str, float]:
    """Does a generator sit closer to its training set than to fresh data of the same distribution? The gap
    D = MMD²_u(x, heldout) − MMD²_u(x, train) (unbiased estimators, RBF kernel of bandwidth h) of generated points x
    against a held-out sample and the training sample, both of the true distribution and of the same size m, and
    its `noise`: the standard deviation of D under random relabelling of the pooled 2m points into "held-out" and
    "training" halves, the permutation null of a two-sample test (Good, *Permutation Tests*, 2005; the relative-
    similarity question of Bounliphone et al. 2016, "A test of relative similarity for model selection in
    generative models"; the data-copying question of Meehan et al. 2020). A generator independent of its training
    points makes the two halves exchangeable, so D is one draw of that null; one that copies them reads D ≫ noise.

    Exact and without resampling: the x-x terms cancel and, the halves being equally large, the within-half kernel
    sums differ by a statistic linear in the labels a_j = ±1 (held-out / training) of the pooled points p_j,
        D = Σ_j a_j w_j,   w_j = R_j / (m(m−1)) − 2 g_j / (n m),
    with R_j = Σ_l k(p_j, p_l) over the pooled points and g_j = Σ_i k(x_i, p_j) over the n generated ones; over the
    C(2m, m) balanced labellings (E a_j = 0, Cov(a_j, a_l) = −1/(2m−1)) its variance is
        Var D = 2m/(2m−1) · Σ_j (w_j − w̄)².
    Returns `gap` (D) and `noise` (√Var D)."""
    x, h, t = _float64(x, heldout, train)
    if len(h) != len(t):
        raise ValueError(f"mmd_memorisation: the held-out and training samples must be equally large "
                         f"({len(h)} != {len(t)})")
    n, m = len(x), len(h)
    pooled = torch.cat([h, t])
    w = (rbf_kernel_rowsums(pooled, pooled, bandwidth) / (m * (m - 1))
         - 2 * rbf_kernel_rowsums(pooled, x, bandwidth) / (n * m)).numpy()
    a = np.r_[np.ones(m), -np.ones(m)]
    return {"gap": float(a @ w), "noise": float(np.sqrt(2 * m / (2 * m - 1) * ((w - w.mean()) ** 2).sum()))}


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2): ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}), in float64.

    The same computation as pytorch-fid's `calculate_frechet_distance` (Heusel et al. 2017), including its
    stabilisation (an εI offset when the product is near-singular; the imaginary round-off of sqrtm dropped), and
    tested against it; written here because importing pytorch-fid pulls in torchvision, which costs seconds in
    every 2-D evaluation job."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = eps * np.eye(len(sigma1))
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fd(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the samples x and y (the 2-D analogue of FID)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


def _grid_densities(true_density: np.ndarray, model_energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p (true) and q = exp(−E) rescaled so that Σq = Σp over the grid, both clipped to [1e-7, 1e7]."""
    p = np.asarray(true_density, np.float64).ravel()
    logq = -np.asarray(model_energy, np.float64).ravel()
    q = np.exp(logq - logq.max())
    q = q * (p.sum() / q.sum())
    return np.clip(p, *CLIP), np.clip(q, *CLIP)


def kld(true_density: np.ndarray, model_energy: np.ndarray) -> float:
    """KL(p ‖ q) on the grid: Σ p log(p/q) / Σ p, with p the true density and q the model density
    exp(−E) rescaled to the same grid sum; both clipped to [1e-7, 1e7]."""
    p, q = _grid_densities(true_density, model_energy)
    return float((p * np.log(p / q)).sum() / p.sum())


def jsd(true_density: np.ndarray, model_energy: np.ndarray) -> float:
    """Jensen-Shannon divergence on the grid: ½[KL(p‖m) + KL(q‖m)] / Σ p, m = (p + q)/2 (same p, q as `kld`)."""
    p, q = _grid_densities(true_density, model_energy)
    m = (p + q) / 2
    return float(0.5 * ((p * np.log(p / m)).sum() + (q * np.log(q / m)).sum()) / p.sum())


def auc_negatives(means: np.ndarray, tau: float, per_mean: int, rng: np.random.Generator) -> np.ndarray:
    """The AUC's negatives: `per_mean` points per mean drawn uniformly in the square mean ± τ."""
    lo = np.repeat(means, per_mean, axis=0) - tau
    return lo + 2 * tau * rng.random(lo.shape)


def auc(score_pos: np.ndarray, score_neg: np.ndarray) -> float:
    """ROC AUC of a score that should rank positives above negatives (scikit-learn's roc_auc_score)."""
    from sklearn.metrics import roc_auc_score  # imported here: it costs seconds, and training never needs it

    labels = np.r_[np.ones(len(score_pos)), np.zeros(len(score_neg))]
    return float(roc_auc_score(labels, np.r_[score_pos, score_neg]))


def mode_coverage_density(energy_means: np.ndarray, energy_grid: np.ndarray, threshold: float) -> float:
    """Fraction of means where the model density, normalised by its maximum over the grid, exceeds
    `threshold` (t = 0.1 Two-Circle, 0.5 Two-Spiral; released code)."""
    rel = np.exp(np.asarray(energy_grid).min() - np.asarray(energy_means))
    return float((rel > threshold).mean())
