"""Score estimation by a denoising auto-encoder, the one estimator behind every entropy or likelihood
regulariser (methods/core/terms.py; `*_lr`, `*_er`, `*_va`, `egan`, `dgm`).

A DAE r trained to minimise E‖r(x + σε) − x‖², ε ~ N(0, I), satisfies r(x) − x ≈ σ² ∇_x log p(x) for small σ
(Alain & Bengio 2014, "What regularized auto-encoders learn from the data-generating distribution", Thm. 1);
Warde-Farley & Bengio (2017) use it to push generator samples along ∇ log p_data, Tao et al. (2019) to estimate the
entropy gradient of the generator. Trained on data it estimates ∇ log p_data (likelihood regulariser); trained on
generated samples it estimates ∇ log q_G, and by the reparameterisation x = G(z)

    ∇_θ H(q_G) = −E_z[ (∂G(z)/∂θ)ᵀ ∇_x log q_G(x) |_{x=G(z)} ]

so `surrogate(score, x)` = E[ s(x)ᵀ x ] with s held fixed has the gradient E[(∂x/∂θ)ᵀ s]: descending
`+surrogate(∇log q_G, G(z))` ascends the entropy; descending `−surrogate(∇log p_data, G(z))` ascends log p_data.

How the DAE is parametrised and trained (`entropy:` in config/config.yaml; checks in tests/test_entropy.py).
Measured on Two-Circle, fitted online on 100 fresh points per call: mean cosine to the exact smoothed score 0.93
at data points after 250 calls, 0.95 after 2000 (0.88 over the data's box), where a plain softplus MLP r(x) gets
0.05 (0.17 over the box) and tanh at lr 3e-3 0.69; 1.8 ms per `fit` + `score` on one CPU thread (1.3 ms for the
plain MLP), 1.2 ms more per extra step.

* The network outputs the score: r(x) = x + σ² s(x). The reconstruction loss then reads
  E‖r(x̃) − x‖² = σ² E‖σ s(x̃) + ε‖², x̃ = x + σε: denoising score matching (Vincent 2011, "A connection between
  score matching and denoising autoencoders", Neural Computation 23(7)), whose minimiser is the score of the
  smoothed density, s* = ∇ log (p ∗ N(0, σ²I)). A network r with bounded output gives s ≈ −x/σ² before it has
  learnt the identity, a pull to the origin of norm ~|x|/σ² (≈ 70 on Two-Circle, where the true score is ≈ 2); here
  the output layer starts at zero, so s starts at the Gaussian base below.
* Gaussian base (`dae_gaussian_base`): s(x) = −(x − m)/(v + σ²) + f(x)/σ, the σ-smoothed score of the
  moment-matched diagonal Gaussian N(m, diag v) plus a learnt correction f. m, v are running means (`dae_momentum`)
  of the batch moments, kept as buffers. The estimate is exact for a Gaussian and, far from the fitted points,
  where the correction has seen nothing, still points back to the bulk.
* Input (`dae_fourier_features` = K): f = MLP([sin Ωx, cos Ωx, (x − m)/√(v + σ²)]), random Fourier features
  (Rahimi & Recht 2007, "Random features for large-scale kernel machines"; Tancik et al. 2020, "Fourier features
  let networks learn high frequency functions in low dimensional domains"), Ω ∈ ℝ^{K×d} fixed with i.i.d.
  N(0, 1/ℓ²) entries, ℓ = `dae_fourier_scale`·σ, beside x standardised by the running moments. A plain MLP on x
  resolves the modes of a mixture (width ~√(v_k + σ²), spread over a box tens of times wider) only once its
  first-layer weights and biases have grown ~10-fold, thousands of Adam steps at lr 1e-3 (with softplus,
  standardising x, lr up to 1e-2 or 2 steps per call all stayed below a cosine of 0.3 after 2000 calls; tanh, lr
  3e-3 and 3 steps per call reached 0.8 at 3× the cost, and saturates away from the data); the features resolve
  length ℓ at once, anywhere. They are bounded and carry no trend, so the standardised x is what lets the MLP
  extrapolate the pull back to the data beyond the fitted points (Two-Circle, |x| ∈ [10, 14]: cosine to the true
  score 0.49 with it, 0.29 without). Fourier features suit low-dimensional data; K = 0 leaves the MLP on the
  standardised x alone.
* `dae_steps` Adam steps per `fit` call, each on fresh noise; `dae_warmup` extra steps on the first call, so the
  estimate is usable from the first training iteration (the call count is a buffer: a resumed run does not repeat
  the warm-up).
* `dae_clip` bounds the estimate, ‖σ s(x)‖ ≤ dae_clip·√d. The regression target of σ s is −ε, whose norm exceeds
  dae_clip·√d with negligible probability (e^{−25} for d = 2, dae_clip = 5), so the bound leaves fitted estimates
  alone and only stops an extrapolation far from the fitted points (e.g. the Gaussian base of a collapsed
  generator, ≈ −x/σ²) from blowing up; null = no bound.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from methods.core.nets import mlp
from methods.core.optim import Adam
from methods.core.stack import Stack, draw


class FourierFeatures(nn.Module):
    """φ(x) = [sin(Ωx), cos(Ωx)] with Ω_kj ~ N(0, 1/ℓ²) drawn once and kept as a buffer (Rahimi & Recht 2007):
    φ(x)ᵀφ(y)/K ≈ exp(−‖x − y‖²/(2ℓ²)), a stationary kernel of length-scale ℓ. In a stack each run draws its own Ω
    (K, k, d) and x is (K, B, d)."""

    stacked_tensors = ("omega",)  # with a leading run dimension in a stack (Method._stacked_keys)

    def __init__(self, d: int, k: int, length_scale: float, stack: Stack | None = None):
        super().__init__()
        self.register_buffer("omega", draw(stack, torch.randn, k, d) / length_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x @ self.omega.transpose(-1, -2)
        return torch.cat([torch.sin(h), torch.cos(h)], dim=-1)


class DAEScore(nn.Module):
    """s(x) ≈ ∇_x log (p ∗ N(0, σ²I))(x) = (r(x) − x)/σ², with r(x) = x + σ² s(x) a DAE fitted online by denoising
    score matching, `dae_steps` Adam steps per `fit` call (parametrisation: module docstring).

    With a `stack` of K runs (methods/core/stack.py; vectors only) x is (K, B, d): every run has its own network,
    features, running moments, noise draws and Adam slots, and its own loss (the stack's loss is their sum)."""

    stacked_tensors = ("mean", "var")

    def __init__(self, hp: dict, d: int, stack: Stack | None = None):
        super().__init__()
        self.stack = stack
        self.sigma = hp["dae_sigma"]
        self.steps, self.warmup = hp["dae_steps"], hp["dae_warmup"]
        self.momentum, self.clip = hp["dae_momentum"], hp["dae_clip"]
        self.gaussian_base = hp["dae_gaussian_base"]
        k = hp["dae_fourier_features"]
        self.features = FourierFeatures(d, k, hp["dae_fourier_scale"] * self.sigma, stack)  # K = 0: no features
        self.net = mlp(2 * k + d, hp["hidden"], d, hp["layers"], hp["dae_activation"], stack=stack)
        nn.init.zeros_(self.net[-1].weight)  # f = 0 at the start: s = the Gaussian base (or 0), never −x/σ²
        nn.init.zeros_(self.net[-1].bias)
        runs = () if stack is None else (len(stack),)
        self.register_buffer("mean", torch.zeros(*runs, d))  # running moments of the fitted batches (base, scale)
        self.register_buffer("var", torch.ones(*runs, d))
        self.register_buffer("fits", torch.zeros((), dtype=torch.long))  # `fit` calls so far
        self.opt = Adam(self.net.parameters(), lr=hp["dae_lr"], betas=(0.9, hp["beta2"]), runs=runs[0] if runs else None)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        """x as rows of vectors: (B, d) alone, (K, B, d) in a stack."""
        return x.flatten(1) if self.stack is None else x

    def _moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The running mean and variance, broadcastable against `_flat(x)`."""
        return (self.mean, self.var) if self.stack is None else (self.mean[:, None], self.var[:, None])

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        flat, (mean, var) = self._flat(x), self._moments()
        standardised = (flat - mean) / (var + self.sigma ** 2).sqrt()  # by the noisy inputs' moments
        s = self.net(torch.cat([self.features(flat), standardised], dim=-1)) / self.sigma
        if self.gaussian_base:
            s = s - (flat - mean) / (var + self.sigma ** 2)
        return s.view_as(x)

    @torch.no_grad()
    def _update_moments(self, x: torch.Tensor) -> None:
        flat = self._flat(x)
        rows = flat.shape[-2]
        mean, var = flat.mean(-2), flat.var(-2) if rows > 1 else torch.zeros_like(self.var)
        if self.fits == 0:
            self.mean.copy_(mean)
            self.var.copy_(var)
        else:
            self.mean.lerp_(mean, self.momentum)
            self.var.lerp_(var, self.momentum)

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """Denoising steps on the batch x (detached): minimise E‖σ s(x + σε) + ε‖² (= E‖r(x̃) − x‖²/σ²);
        returns the last reconstruction loss E‖r(x̃) − x‖²."""
        x = x.detach()
        self._update_moments(x)
        steps = self.steps + (self.warmup if self.fits == 0 else 0)
        self.fits += 1
        for _ in range(steps):
            eps = torch.randn_like(x) if self.stack is None else draw(self.stack, torch.randn, *x.shape[1:])
            loss = (self.sigma * self._score(x + self.sigma * eps) + eps).pow(2)
            loss = loss.flatten(1).sum(1).mean() if self.stack is None else loss.sum(-1).mean(-1)  # per run
            self.opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            self.opt.step()
        return self.sigma ** 2 * loss.detach()

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The estimate s(x), its norm bounded by `dae_clip` (module docstring)."""
        s = self._score(x)
        if self.clip is None:
            return s
        flat = self._flat(s)
        bound = self.clip * math.sqrt(flat.shape[-1]) / self.sigma
        norm = flat.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(s.dtype).tiny)
        return (flat * (bound / norm).clamp(max=1.0)).view_as(s)


def surrogate(score: torch.Tensor, x: torch.Tensor, stacked: bool = False) -> torch.Tensor:
    """E[s(x)ᵀ x] with s fixed: its gradient w.r.t. the parameters that produced x is E[(∂x/∂θ)ᵀ s]; per run,
    shape (K,), for a stack's x (K, B, d)."""
    return (score.detach() * x).sum(-1).mean(-1) if stacked else (score.detach() * x).flatten(1).sum(1).mean()
