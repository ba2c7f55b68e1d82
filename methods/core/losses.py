"""Adversarial losses shared by the GAN-family methods and Stein Bridging's D1 term (SPEC §2.3-§2.4).

JS ("gan"): the discriminator D(x) is a logit; it descends BCE(D(x), 1) + BCE(D(G(z)), 0), and the generator
descends the non-saturating loss BCE(D(G(z)), 1) = −E log σ(D(G(z))) (Goodfellow et al. 2014, §3).
Wasserstein ("wgan"): the critic descends E D(G(z)) − E D(x) + λ·GP and the generator −E D(G(z))
(Arjovsky et al. 2017; Gulrajani et al. 2017).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

PENALTIES = ("two_sided", "hinge")
GAN_LOSSES = ("gan", "wgan")


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, kind: str = "two_sided") -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] at random interpolates x̂ = εx + (1−ε)G(z), ε ~ U[0, 1] (Gulrajani et al. 2017);
    `hinge`: only norms above 1 are penalised, relu(‖∇D(x̂)‖ − 1)² (the released code)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    excess = grad.flatten(1).norm(dim=1) - 1
    if kind == "hinge":
        excess = excess.clamp_min(0)
    elif kind != "two_sided":
        raise ValueError(f"unknown gradient penalty {kind!r}; valid: {', '.join(PENALTIES)}")
    return excess.pow(2).mean()


def critic_loss(kind: str, critic, real: torch.Tensor, fake: torch.Tensor, hp: dict) -> torch.Tensor:
    """The discriminator/critic loss of `kind` ("gan" or "wgan") on a real and a (detached) fake batch."""
    if kind == "wgan":
        gp = gradient_penalty(critic, real, fake, hp["penalty"])
        return critic(fake).mean() - critic(real).mean() + hp["gp_weight"] * gp
    if kind == "gan":
        d_real, d_fake = critic(real), critic(fake)
        return F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    raise ValueError(f"unknown adversarial loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")


def generator_loss(kind: str, critic, fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss: −E D(G(z)) (wgan) or the non-saturating −E log σ(D(G(z))) (gan)."""
    d_fake = critic(fake)
    if kind == "wgan":
        return -d_fake.mean()
    if kind == "gan":
        return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
    raise ValueError(f"unknown adversarial loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")
