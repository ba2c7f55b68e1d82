"""Score estimation by a denoising auto-encoder, the one estimator behind every entropy or likelihood
regulariser (SPEC §2.3: `*_lr`, `*_er`, `*_va`, `egan`, `dgm`).

A DAE r trained to minimise E‖r(x + σε) − x‖², ε ~ N(0, I), satisfies r(x) − x ≈ σ² ∇_x log p(x) for small σ
(Alain & Bengio 2014, "What regularized auto-encoders learn from the data-generating distribution", Thm. 1);
Warde-Farley & Bengio (2017) use it to push generator samples along ∇ log p_data, Tao et al. (2019) to estimate the
entropy gradient of the generator. Trained on data it estimates ∇ log p_data (likelihood regulariser); trained on
generated samples it estimates ∇ log q_G, and by the reparameterisation x = G(z)

    ∇_θ H(q_G) = −E_z[ (∂G(z)/∂θ)ᵀ ∇_x log q_G(x) |_{x=G(z)} ]

so `surrogate(score, x)` = E[ s(x)ᵀ x ] with s held fixed has the gradient E[(∂x/∂θ)ᵀ s]: descending
`+surrogate(∇log q_G, G(z))` ascends the entropy; descending `−surrogate(∇log p_data, G(z))` ascends log p_data.
"""
from __future__ import annotations

import torch
from torch import nn

from methods.core.nets import mlp


class DAEScore(nn.Module):
    """s(x) ≈ ∇_x log p(x) = (r(x) − x)/σ² from a DAE r fitted online, `dae_steps` Adam steps per `fit` call."""

    def __init__(self, hp: dict, d: int):
        super().__init__()
        self.sigma = hp["dae_sigma"]
        self.steps = hp["dae_steps"]
        self.net = mlp(d, hp["hidden"], d, hp["layers"], hp["dae_activation"])
        self.opt = torch.optim.Adam(self.net.parameters(), lr=hp["dae_lr"], betas=(0.9, hp["beta2"]))

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """Denoising steps on the batch x (detached); returns the last reconstruction loss."""
        x = x.detach()
        for _ in range(self.steps):
            noisy = x + self.sigma * torch.randn_like(x)
            loss = (self.net(noisy) - x).pow(2).flatten(1).sum(1).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return loss.detach()

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) - x) / self.sigma ** 2


def surrogate(score: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E[s(x)ᵀ x] with s fixed: its gradient w.r.t. the parameters that produced x is E[(∂x/∂θ)ᵀ s]."""
    return (score.detach() * x).flatten(1).sum(1).mean()
