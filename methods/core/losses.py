"""Adversarial losses shared by the GAN-family methods and Stein Bridging's D1 term (paper §3, Algorithm 1).

JS ("gan"): the discriminator D(x) is a logit; it descends BCE(D(x), 1) + BCE(D(G(z)), 0), and the generator
descends the non-saturating loss BCE(D(G(z)), 1) = −E log σ(D(G(z))) (Goodfellow et al. 2014, §3).
Wasserstein ("wgan"): the critic descends E D(G(z)) − E D(x) + λ·GP and the generator −E D(G(z))
(Arjovsky et al. 2017; Gulrajani et al. 2017).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from methods.core.nets import Critic

PENALTIES = ("two_sided", "hinge")
GAN_LOSSES = ("gan", "wgan")


def penalty_terms(grad: torch.Tensor, kind: str = "two_sided") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row of g: (‖g‖, the penalty φ(‖g‖), its slope φ'(‖g‖)):
    `two_sided` (Gulrajani et al. 2017): φ(n) = (n − 1)², φ' = 2(n − 1);
    `hinge` (the authors' released 2-D code, `tf.nn.relu(gradient_norm - 1)`): φ(n) = relu(n − 1), unsquared,
    φ' = 1 where n > 1, else 0."""
    norm = grad.flatten(1).norm(dim=1)
    return norm, *penalty_of_norm(norm, kind)


def penalty_of_norm(norm: torch.Tensor, kind: str = "two_sided") -> tuple[torch.Tensor, torch.Tensor]:
    """(φ(n), φ'(n)) of the gradient penalty `kind` at the gradient norms n (`penalty_terms`)."""
    excess = norm - 1
    if kind == "two_sided":
        return excess.pow(2), 2 * excess
    if kind == "hinge":
        return excess.clamp_min(0), (excess > 0).to(norm.dtype)
    raise ValueError(f"unknown gradient penalty {kind!r}; valid: {', '.join(PENALTIES)}")


def penalty_from_grad(grad: torch.Tensor, kind: str = "two_sided") -> torch.Tensor:
    """E[(‖g‖ − 1)²] over the rows of g (two-sided, Gulrajani et al. 2017), or E[relu(‖g‖ − 1)] (`hinge`, the
    released code's)."""
    return penalty_terms(grad, kind)[1].mean()


def interpolates(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """x̂ = εx + (1−ε)G(z), ε ~ U[0, 1] per sample (Gulrajani et al. 2017); `eps` (B, 1, …) may be given."""
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    if eps.dim() < real.dim():  # (B, 1) for images (B, C, H, W); a stack's (K, B, 1) already broadcasts
        eps = eps.view(real.shape[0], *([1] * (real.dim() - 1)))
    return torch.lerp(fake, real, eps)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, kind: str = "two_sided",
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] at random interpolates x̂ = εx + (1−ε)G(z), ε ~ U[0, 1] (Gulrajani et al. 2017);
    `hinge`: only norms above 1 are penalised, linearly, relu(‖∇D(x̂)‖ − 1) (the released code). ∇D by autograd with a
    recorded graph (double backward): the reference for the closed form in `critic_loss`, and the path for critics
    without one (e.g. convolutional)."""
    x_hat = interpolates(real, fake, eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return penalty_from_grad(grad, kind)


def critic_loss(kind: str, critic, real: torch.Tensor, fake: torch.Tensor, hp: dict,
                eps: torch.Tensor | None = None) -> torch.Tensor:
    """The discriminator/critic loss of `kind` ("gan" or "wgan") on a real and a (detached) fake batch; `eps` are
    the interpolation weights of the gradient penalty (drawn here if not given).

    A critic with `value_and_grad` (an MLP, methods/core/nets.py) is evaluated once on [x̂; x; G(z)] with ∇D(x̂) in
    closed form (methods/core/fused.py); other critics go through `gradient_penalty`. The two agree to float
    round-off (tests/test_losses.py)."""
    dim = 1 if real.dim() == 3 else 0  # the batch dimension: 1 for a stack of 2-D runs (K, B, d)
    b = real.shape[dim]
    if kind == "wgan":
        if isinstance(critic, Critic):  # an MLP critic: closed-form ∇D
            x_hat = interpolates(real, fake, eps)
            out, grad = critic.value_and_grad(torch.cat([x_hat, real, fake], dim), rows=b)
            _, d_real, d_fake = out.split(b, -1)
            penalty = penalty_of_norm(grad.norm(dim=-1), hp["penalty"])[0].mean(-1)
            return d_fake.mean(-1) - d_real.mean(-1) + hp["gp_weight"] * penalty
        gp = gradient_penalty(critic, real, fake, hp["penalty"], eps)
        return critic(fake).mean() - critic(real).mean() + hp["gp_weight"] * gp
    if kind == "gan":
        # one pass over both batches; BCE(d, 1) = softplus(−d) and BCE(d, 0) = softplus(d)
        d_real, d_fake = critic(torch.cat([real, fake], dim)).split(b, -1)
        return F.softplus(-d_real).mean(-1) + F.softplus(d_fake).mean(-1)
    raise ValueError(f"unknown adversarial loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")


def generator_loss(kind: str, critic, fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss: −E D(G(z)) (wgan) or the non-saturating −E log σ(D(G(z))) (gan). The
    critic is fixed in a generator step (its value differentiated in G(z) only, `frozen`, where it has the fused
    path)."""
    d_fake = critic.value_and_grad(fake, rows=0, frozen=True)[0] if isinstance(critic, Critic) else critic(fake)
    if kind == "wgan":
        return -d_fake.mean()
    if kind == "gan":
        return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
    raise ValueError(f"unknown adversarial loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")
