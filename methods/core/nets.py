"""Networks (SPEC §2.2). 2-D: generator z(4) → 128 → 128 → 2; critic 2 → 128 → 128 → 1; energy network
2 → 128 → 128 → K experts with an energy head. Widths, depths, activations and the noise scale come from config."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),  # slope 0.2, as in the released 2-D code
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
}


def mlp(d_in: int, hidden: int, d_out: int, layers: int, activation: str) -> nn.Sequential:
    """`layers` hidden layers of width `hidden` with `activation`, then a linear output layer."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    mods, d = [], d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), ACTIVATIONS[activation]()]
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


class Generator(nn.Module):
    """x = G(z), z ~ N(0, noise_std² I) of dimension noise_dim."""

    def __init__(self, hp: dict, d_out: int):
        super().__init__()
        self.noise_dim, self.noise_std = hp["noise_dim"], hp["noise_std"]
        self.net = mlp(self.noise_dim, hp["hidden"], d_out, hp["layers"], hp["generator_activation"])

    def forward(self, n: int) -> torch.Tensor:
        z = self.noise_std * torch.randn(n, self.noise_dim)
        return self.net(z)


class Critic(nn.Module):
    """Scalar critic D(x) (WGAN critic or GAN discriminator logit)."""

    def __init__(self, hp: dict, d_in: int):
        super().__init__()
        self.net = mlp(d_in, hp["hidden"], 1, hp["layers"], hp["critic_activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


ENERGY_HEADS = {
    # paper: E(x) = Σ_k softplus(−h_k(x)), i.e. p ∝ Π_k sigmoid(h_k): a product of K experts (default)
    "softplus_experts": lambda h: F.softplus(-h).sum(-1),
    # released 2-D code: E(x) = Σ_k sigmoid(h_k(x)); bounded, so the density varies by at most a factor e^K
    "sigmoid_experts": lambda h: torch.sigmoid(h).sum(-1),
    # E = Σ_k h_k: unconstrained (Dai et al.'s released EGAN code, energy form "identity"; Du & Mordatch 2019)
    "linear": lambda h: h.sum(-1),
    # E = −Σ_k softplus(h_k): experts lower the energy (Kim & Bengio 2016, §3; with a Gaussian base term)
    "minus_softplus_experts": lambda h: -F.softplus(h).sum(-1),
}


class Energy(nn.Module):
    """Energy E(x), p(x) ∝ exp(−E(x)): an MLP with K expert outputs h_k(x) combined by the energy head."""

    def __init__(self, hp: dict, d_in: int):
        super().__init__()
        if hp["energy_head"] not in ENERGY_HEADS:
            raise ValueError(f"unknown energy_head {hp['energy_head']!r}; valid: {', '.join(ENERGY_HEADS)}")
        self.head = ENERGY_HEADS[hp["energy_head"]]
        self.net = mlp(d_in, hp["hidden"], hp["experts"], hp["layers"], hp["energy_activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x))
