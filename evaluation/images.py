"""Image metrics, plain functions on arrays: the definitions of every image number the suite reports.

Images are float32 tensors or arrays in [−1, 1] of shape (n, C, H, W). Each function's docstring gives its
definition; evaluation/evaluate.py applies them to a run's `images: eval_samples` generated images (config; 1000 by
default) against the dataset's held-out test images:

Generator (the paper's image results, Tables 2-3: Inception Score, FID, the bias of the mean image):
* `fid_classifier`: the Fréchet distance (Heusel et al. 2017) between Gaussians fitted to the 128-d features of
  generated and of test images, in the feature space of a small CNN that the DAG trains on the same dataset (rule
  `classifier`, evaluation/classifier.py; the usual offline "MNIST FID"); `fid_from_features`.
* `fid_inception`: the same in the 2048-d pool3 space of pytorch-fid's InceptionV3, the FID of Heusel et al.;
  missing, with the reason, when its weights are not in pytorch-fid's cache (README, "Data and weights").
* `is_classifier`: the Inception Score (Salimans et al. 2016) with the classifier's p(y|x), the paper's MNIST IS;
  `inception_score`.
* `class_coverage`: the number of classes that the classifier predicts for at least 10% of their fair share of the
  generated images; `class_kl_uniform`: KL of the predicted-class histogram from uniform; `class_coverage`.
* `mean_bias_l1`, `mean_bias_l2`: the distance between the mean generated and the mean test image, per pixel value
  (paper Table 3); `mean_bias`.

Energy model (score −E), ROC AUCs over the test images (positives) and `images: ood_negatives` (500) negatives of
each kind (`ood_negatives`, `auc_scores`; the out-of-distribution study of Fig. 8 in the paper's first arXiv
version, 1909.13035v1, "Stein Bridging: Enabling Mutual Reinforcement between Explicit and Implicit Generative
Models"):
* `auc_ood_noise`: against images of uniform-noise pixels;
* `auc_ood_overlay`: against overlays, the average of two test images of different classes;
* `auc_contamination` (contaminated settings): against fresh noise images of the setting's noise model.
Each is also computed for the references of each training set (ceiling: real training images; floor: noise
images; evaluation/references.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from evaluation.metrics2d import auc, frechet_distance

INCEPTION_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"  # the file name pytorch-fid caches its weights under
INCEPTION_FEATURES = "InceptionV3 pool3 2048-d (pytorch-fid)"
LOG_CLIP = 1e-12  # probabilities are clipped to [1e-12, 1] before taking logs


def _array(x) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def _gaussian(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, float64) of the rows of f."""
    f = np.asarray(f, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"expected a feature matrix (n ≥ 2, d), got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet Inception Distance (Heusel et al. 2017) in a given feature space: the Fréchet distance
    ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}) between Gaussians N(μ, Σ) fitted (sample mean, unbiased sample
    covariance) to the feature sets f1 (n1, d) and f2 (n2, d). With the classifier's features: `fid_classifier`."""
    return frechet_distance(*_gaussian(f1), *_gaussian(f2))


def inception_score(probs: np.ndarray) -> float:
    """Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) ‖ p(y))), p(y) = E_x p(y|x), from the rows
    p(y|x) of probs (n, K); logs of probabilities clipped at 1e-12. Between 1 (every row the same) and K (confident
    predictions spread evenly over the K classes). With the classifier's p(y|x): the paper's MNIST IS."""
    p = np.asarray(probs, np.float64)
    if p.ndim != 2:
        raise ValueError(f"expected class probabilities of shape (n, K), got {p.shape}")
    log_p = np.log(np.clip(p, LOG_CLIP, 1))
    log_py = np.log(np.clip(p.mean(0), LOG_CLIP, 1))
    return float(np.exp((p * (log_p - log_py)).sum(1).mean()))


def class_coverage(probs: np.ndarray, n_classes: int, fraction: float = 0.1) -> dict[str, float]:
    """With predicted labels argmax_y p(y|x) over the n rows of probs: `class_coverage`, the number of classes
    predicted for at least `fraction` of their fair share n / n_classes of the samples; `class_kl_uniform`,
    KL(h ‖ u) = Σ_k h_k log(h_k K) of the predicted-label histogram h from uniform u = 1/K (0 log 0 = 0)."""
    labels = np.asarray(probs).argmax(1)
    counts = np.bincount(labels, minlength=n_classes)
    h = counts / len(labels)
    nz = h > 0
    return {"class_coverage": int((counts >= fraction * len(labels) / n_classes).sum()),
            "class_kl_uniform": float((h[nz] * np.log(h[nz] * n_classes)).sum())}


def mean_bias(generated, real) -> dict[str, float]:
    """Distance between the mean generated image m_g and the mean real image m_r (paper Table 3), averaged per
    pixel value (over the C·H·W entries, so the scale does not depend on the image size):
    `mean_bias_l1` = mean |m_g − m_r| and `mean_bias_l2` = √(mean (m_g − m_r)²) (root mean square)."""
    diff = _array(generated).astype(np.float64).mean(0) - _array(real).astype(np.float64).mean(0)
    return {"mean_bias_l1": float(np.abs(diff).mean()), "mean_bias_l2": float(np.sqrt((diff ** 2).mean()))}


def ood_negatives(x_test, y_test, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Negatives for `auc_ood_*`, as float32 arrays shaped like the test images: `noise`, n images of i.i.d.
    uniform pixels in [−1, 1]; `overlay`, n averages (x_i + x_j)/2 of two test images of different
    classes, i uniform and j uniform among the images of another class; `overlay_pairs`, the (n, 2) indices (i, j)."""
    x, y = _array(x_test).astype(np.float32), _array(y_test)
    if len(np.unique(y)) < 2:
        raise ValueError("overlays need test images of at least two classes")
    i, j = rng.integers(len(x), size=n), rng.integers(len(x), size=n)
    while (same := y[i] == y[j]).any():  # rejection: j uniform among the images of a class other than y_i
        j[same] = rng.integers(len(x), size=int(same.sum()))
    noise = rng.uniform(-1, 1, size=(n, *x.shape[1:])).astype(np.float32)
    return {"noise": noise, "overlay": (x[i] + x[j]) / 2, "overlay_pairs": np.stack([i, j], 1)}


def auc_scores(score_pos, score_neg) -> float:
    """ROC AUC of a realness score (higher = more real, e.g. −E) ranking positives (held-out real images) above
    negatives; 0.5 when it cannot tell them apart (scikit-learn's roc_auc_score via `metrics2d.auc`)."""
    return auc(_array(score_pos).ravel(), _array(score_neg).ravel())


def inception_weights_path() -> Path:
    """Where pytorch-fid's InceptionV3 weights are cached: <torch hub dir>/checkpoints/pt_inception-…pth, i.e.
    $TORCH_HOME/hub/checkpoints/ (default ~/.cache/torch/hub/checkpoints/)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS


@torch.no_grad()
def _inception_features(model, x, batch: int, device: str) -> np.ndarray:
    """2048-d pool3 activations of images in [−1, 1]; grey images repeated to 3 channels, rescaled to the [0, 1]
    that pytorch-fid's InceptionV3 expects (it resizes to 299×299 itself)."""
    x = torch.as_tensor(_array(x), dtype=torch.float32)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (n, 1 or 3, H, W), got {tuple(x.shape)}")
    out = []
    for k in range(0, len(x), batch):
        xb = ((x[k:k + batch] + 1) / 2).clamp(0, 1).expand(-1, 3, -1, -1).to(device)
        out.append(model(xb)[0].flatten(1).double().cpu())
    return torch.cat(out).numpy()


def fid_inception(generated, real, batch: int = 50, device: str = "cpu") -> dict:
    """FID (Heusel et al. 2017) between generated and real images in the 2048-d pool3 feature space of pytorch-fid's
    InceptionV3. Returns {"value", "params", "reason"}: value None with the reason when the weights are
    not at `inception_weights_path()` or cannot be read; nothing is ever downloaded."""
    from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3  # imported here: pytorch-fid imports torchvision

    params = {"feature_space": INCEPTION_FEATURES, "n_generated": len(generated), "n_real": len(real)}
    path = inception_weights_path()
    if not path.is_file():
        return {"value": None, "params": params,
                "reason": f"InceptionV3 weights not found at {path}: download {FID_WEIGHTS_URL} to that path "
                          "(or point $TORCH_HOME to a directory whose hub/checkpoints/ holds the file)"}
    try:  # pytorch-fid loads the weights through torch.hub, which finds the cached file and does not download
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).to(device).eval()
    except Exception as err:  # a truncated or foreign file: the value is missing, the evaluation goes on
        return {"value": None, "params": params,
                "reason": f"InceptionV3 weights at {path} could not be loaded ({type(err).__name__}: {err}); "
                          f"replace the file by {FID_WEIGHTS_URL}"}
    f_gen, f_real = (_inception_features(model, x, batch, device) for x in (generated, real))
    return {"value": fid_from_features(f_gen, f_real), "params": params, "reason": None}
