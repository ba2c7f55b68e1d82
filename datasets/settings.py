"""Training settings and the stored training sets built from them: the data conditions of the paper's robustness
experiments (contaminated and limited training data, paper Fig. 7).

A setting is written as a path component:
  `clean`: the dataset's N clean training points (datasets/synthetic.py).
  `contaminated-<r>` or `contaminated-<r>-<noise>` (0 ≤ r < 1): round(r·N) noise points added to the N clean ones,
      each labelled as noise (`is_noise`), so an energy's ranking of clean over noise points can be scored
      (`auc_contamination`, evaluation/metrics2d.py). Noise model `origin` (the default; the paper's text: N(0, 2²I))
      or `around_modes` (the authors' released code: a mixture sample plus 2·N(0, I)). The paper contaminates
      Two-Circle with r ∈ {0.02, 0.05, 0.08, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5}.
  `limited-<n>` (1 ≤ n ≤ N): the first n points of the shuffled clean training set, i.e. a random subset. The paper
      limits Two-Spiral to n ∈ {100, 200, 300, 500, 700, 1000, 1500, 2000}.
On image datasets the same names mean the same, except that contamination replaces a fraction r of the images by
uniform-noise images (datasets/images.py, `image_training_set`).

Every setting of one (dataset, seed) is built from the same clean training set, and every contamination ratio from
the same pool of noise points (its first r·N), so curves over r or n vary only what they claim to vary. Generator
metrics compare against a held-out sample of the true mixture (evaluation/evaluate.py, `heldout_points`), and
against the full clean training set as the released code did, in every setting. Training sets are drawn once per
(dataset, setting, seed) and stored (`python -m datasets.make`), so every method trains on the same points.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from datasets.synthetic import GaussianMixture

NOISE_MODELS = ("origin", "around_modes")
NOISE_STD = 2.0  # noise N(0, 2²I) (origin) or mixture sample + 2·N(0, I) (around_modes)
KINDS = ("clean", "contaminated", "limited")


def derive_seed(*parts) -> int:
    """A 63-bit seed from an experiment's identity (e.g. dataset, setting, method, seed index): stable across
    runs, machines and Python versions (unlike hash())."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclasses.dataclass(frozen=True)
class Setting:
    kind: str = "clean"
    ratio: float = 0.0
    noise: str = "origin"
    n: int = 0

    @classmethod
    def parse(cls, text: str) -> "Setting":
        """Parse `clean`, `contaminated-0.05[-around_modes]` or `limited-500`; bad text raises a ValueError that
        says what is wrong and what is expected."""
        kind, *args = str(text).split("-")
        usage = "expected clean, contaminated-<r>[-origin|-around_modes] with 0 <= r < 1, or limited-<n> with n >= 1"
        if kind == "clean" and not args:
            return cls()
        if kind == "contaminated" and len(args) in (1, 2):
            try:
                ratio = float(args[0])
            except ValueError:
                raise ValueError(f"setting {text!r}: noise ratio {args[0]!r} is not a number; {usage}") from None
            if not 0 <= ratio < 1:
                raise ValueError(f"setting {text!r}: noise ratio {ratio} is outside [0, 1); {usage}")
            noise = args[1] if len(args) == 2 else "origin"
            if noise not in NOISE_MODELS:
                raise ValueError(f"setting {text!r}: unknown noise model {noise!r}; valid: {', '.join(NOISE_MODELS)}")
            return cls("contaminated", ratio=ratio, noise=noise)
        if kind == "limited" and len(args) == 1:
            if not args[0].isdigit() or int(args[0]) < 1:
                raise ValueError(f"setting {text!r}: training-set size {args[0]!r} is not a positive integer; {usage}")
            return cls("limited", n=int(args[0]))
        raise ValueError(f"unknown setting {text!r}; {usage}")

    def __str__(self) -> str:
        if self.kind == "contaminated":
            return f"contaminated-{self.ratio:g}" + ("" if self.noise == "origin" else f"-{self.noise}")
        if self.kind == "limited":
            return f"limited-{self.n}"
        return "clean"

    def check(self, dataset) -> None:
        """Whether this setting applies to `dataset` (a 2-D mixture or an image dataset: anything with `name` and
        `n_train`)."""
        if self.kind == "limited" and self.n > dataset.n_train:
            raise ValueError(f"setting {self}: n = {self.n} is larger than {dataset.name}'s training set "
                             f"({dataset.n_train} points); choose n <= {dataset.n_train}")
        if self.kind == "contaminated" and self.noise != "origin" and not hasattr(dataset, "means"):
            raise ValueError(f"setting {self}: images have one noise model (uniform pixels); write "
                             f"contaminated-{self.ratio:g}")


def sample_noise(dataset: GaussianMixture, model: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n contamination points from noise model `model`: `origin`, N(0, 2²I); `around_modes`, a mixture sample plus
    2·N(0, I)."""
    if model == "origin":
        return NOISE_STD * rng.standard_normal((n, dataset.dim))
    if model == "around_modes":
        return dataset.sample(n, rng) + NOISE_STD * rng.standard_normal((n, dataset.dim))
    raise ValueError(f"unknown noise model {model!r}; valid: {', '.join(NOISE_MODELS)}")


def clean_training_set(dataset: GaussianMixture, seed: int) -> np.ndarray:
    """The clean training set of seed index `seed`, in random order (so its first n points are a random subset)."""
    return dataset.sample(dataset.n_train, np.random.default_rng(derive_seed(dataset.name, "clean", seed)))


def training_set(dataset: GaussianMixture, setting: Setting | str, seed: int) -> dict[str, np.ndarray]:
    """The training set of (dataset, setting, seed index): `x` (n, d), `is_noise` (n,) and `clean` (the full
    clean training set: the grid's box, and the training-set comparisons of the generator metrics)."""
    setting = Setting.parse(setting) if isinstance(setting, str) else setting
    setting.check(dataset)
    clean = clean_training_set(dataset, seed)
    x, is_noise = clean, np.zeros(len(clean), dtype=bool)
    if setting.kind == "contaminated":
        # One pool per (dataset, noise model, seed), as large as the largest valid ratio needs; ratio r takes
        # its first round(r·N) points, so a larger ratio adds noise to a smaller one's.
        pool_rng = np.random.default_rng(derive_seed(dataset.name, "noise", setting.noise, seed))
        pool = sample_noise(dataset, setting.noise, dataset.n_train, pool_rng)
        noise = pool[: int(round(setting.ratio * dataset.n_train))]
        x = np.concatenate([clean, noise])
        is_noise = np.concatenate([is_noise, np.ones(len(noise), dtype=bool)])
    elif setting.kind == "limited":
        x, is_noise = clean[: setting.n], is_noise[: setting.n]
    return {"x": x, "is_noise": is_noise, "clean": clean}
