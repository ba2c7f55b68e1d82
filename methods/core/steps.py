"""Training steps with closed-form gradients for the suite's MLPs (issue "Speed"): the WGAN-GP critic step, the
KSD energy step, and the generator's gradient at its samples from a fixed critic and a fixed energy (the bridge).

Each step is forward (methods/core/fused.py `forward`), the loss and its gradient with respect to the network's
outputs written out, the hand-written backward pass (`fused.backward`, and `ksd_backward` for the KSD), then the
optimiser on the gradients: the same arithmetic as building the loss with autograd and calling backward, without
recording a graph or running autograd's engine for a handful of matrix products. The update blocks of
methods/core/updates.py choose these steps for MLPs and autograd otherwise (convolutional networks,
`fused_gradients: false`); tests/test_steps.py checks each block's two paths against each other.

WGAN-GP critic loss on [x̂; x; G(z)] with D-values v and g = ∇D(x̂):
    L = mean v_fake − mean v_real + λ mean φ(‖g‖),   φ(n) = (n − 1)² (two-sided) or relu(n − 1) (hinge),
    ∂L/∂v = (0, −1/B, +1/B),   ∂L/∂g_i = (λ/B) φ'(‖g_i‖) g_i/‖g_i‖.
KSD energy loss Σ_k w_k KSD(x_k, s_k) with s = −∇E (log_density) or −exp(−E)∇E (density_gradient):
    ∂L/∂∇E = −∂L/∂s                           (log_density)
    ∂L/∂∇E = −exp(−E) ∂L/∂s,  ∂L/∂E = −s·∂L/∂s  (density_gradient).
Generator step, with x = G(z) and D, E fixed: the adversarial loss −mean D(x) (wgan) or mean softplus(−D(x))
(gan) has ∂/∂x = −∇D/B or −σ(−D)∇D/B; the bridge λ2·KSD(x, s(x)) has ∂/∂x = λ2 (∂KSD/∂x + (∂s/∂x)ᵀ ∂KSD/∂s), the
second term the energy's Hessian applied by the fused backward pass. One autograd backward through G takes it
from there.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from methods.core import fused
from methods.core.ksd import _bandwidth, _check, ksd_backward, ksd_forward
from methods.core.losses import interpolates, penalty_of_norm
from methods.core.nets import ACTIVATIONS, ENERGY_HEADS, Critic, Energy


def fusable(module) -> bool:
    """A critic or energy whose network is an MLP on the fused path (not an image network)."""
    return isinstance(module, (Critic, Energy)) and module.net.fused


def _forward(mlp, x: torch.Tensor, head: str, rows: int):
    return fused.forward(x, rows, ACTIVATIONS[mlp.activation], ENERGY_HEADS[head],
                         [p.detach() for p in mlp.parameters()])


@functools.lru_cache(maxsize=8)
def _critic_weights(b: int, dtype: torch.dtype) -> torch.Tensor:
    """(0, …, 0, −1/B, …, −1/B, 1/B, …, 1/B) over [x̂; x; G(z)]: ∂/∂v of mean v_fake − mean v_real."""
    return torch.cat([torch.zeros(b), torch.full((b,), -1.0 / b), torch.full((b,), 1.0 / b)]).to(dtype)


def wgan_gp_critic_step(critic: Critic, opt, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor,
                        gp_weight: float, penalty: str) -> torch.Tensor:
    """One optimiser step on the WGAN-GP critic loss (module docstring); returns the loss."""
    b = real.shape[-2]
    value, grad, saved = _forward(critic.net, torch.cat([interpolates(real, fake, eps), real, fake], -2), "linear",
                                  b)
    norm = grad.norm(dim=-1)
    phi, slope = penalty_of_norm(norm, penalty)
    value_bar = _critic_weights(b, value.dtype)  # ∂L/∂v, and the critic term of L is its dot product with v
    loss = value @ value_bar + gp_weight * phi.mean(-1)  # per run in a stack
    grad_bar = (gp_weight / b) * (slope / norm.clamp_min(1e-12))[..., None] * grad
    opt.apply(fused.backward(saved, value_bar, grad_bar)[1])
    return loss


def critic_input_grad(kind: str, critic: Critic, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the generator's adversarial loss at x, its gradient in x) with the critic fixed (module docstring)."""
    b = x.shape[-2]
    value, grad, _ = _forward(critic.net, x.detach(), "linear", b)
    if kind == "wgan":
        return -value.mean(-1), grad * (-1.0 / b)
    if kind == "gan":
        return F.softplus(-value).mean(-1), (torch.sigmoid(-value) * (-1.0 / b))[..., None] * grad
    raise ValueError(f"unknown adversarial loss {kind!r}; valid: gan, wgan")


def score_and_cotangents(energy: Energy, x: torch.Tensor, score: str):
    """E's forward pass at x with the score s, and a function turning ∂L/∂s into the fused backward's cotangents
    (∂L/∂E, ∂L/∂∇E) (module docstring)."""
    e, grad, saved = _forward(energy.net, x, energy.head, x.shape[-2])
    if score == "log_density":
        return -grad, saved, lambda s_bar: (None, -s_bar)
    if score == "density_gradient":
        density = torch.exp(-e)[..., None]
        s = -density * grad
        return s, saved, lambda s_bar: (-(s_bar * s).sum(-1), -density * s_bar)
    raise ValueError(f"unknown score {score!r}; valid: log_density, density_gradient")


def ksd_input_grad(energy: Energy, x: torch.Tensor, weight: float, hp: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(KSD(x, p_E), ∂(weight·KSD)/∂x) with the energy fixed: through the kernel and through s(x); per run for a
    stack (x (K, B, d): K values)."""
    _check(hp["kernel"], hp["statistic"])
    x = x.detach()
    s, saved, cotangents = score_and_cotangents(energy, x, hp["score"])
    xg, sg = (x, s) if x.dim() == 3 else (x[None], s[None])  # groups: the runs of a stack, or the one run
    value, state = ksd_forward(xg, sg, hp["kernel"], _bandwidth(xg, hp["bandwidth"]), hp["imq_c"], hp["imq_beta"],
                               hp["statistic"])
    x_bar, s_bar = ksd_backward(state, torch.full((len(xg),), weight, dtype=x.dtype), need_x=True, need_s=True)
    through_score, _ = fused.backward(saved, *cotangents(s_bar.reshape(s.shape)), need_x=True, need_params=False)
    return value.view(x.shape[:-2]), x_bar.reshape(x.shape) + through_score


def ksd_energy_step(energy: Energy, opt, x: torch.Tensor, weights: list[float], hp: dict) -> torch.Tensor:
    """One optimiser step on Σ_k weights[k]·KSD(x_k, p_E), x the len(weights) equal blocks of the batch (e.g. data
    and G(z)), with the `stein:` options of hp; returns the KSD of each block (module docstring), shape (blocks,),
    or (blocks, K) for a stack (x (K, n, d))."""
    _check(hp["kernel"], hp["statistic"])
    groups, (n, d), k = len(weights), x.shape[-2:], x.shape[0] if x.dim() == 3 else 1
    s, saved, cotangents = score_and_cotangents(energy, x, hp["score"])
    xg, sg = x.reshape(k * groups, n // groups, d), s.reshape(k * groups, n // groups, d)
    values, state = ksd_forward(xg, sg, hp["kernel"], _bandwidth(xg, hp["bandwidth"]), hp["imq_c"], hp["imq_beta"],
                                hp["statistic"])
    _, s_bar = ksd_backward(state, torch.tensor(weights, dtype=x.dtype).repeat(k), need_x=False, need_s=True)
    opt.apply(fused.backward(saved, *cotangents(s_bar.reshape(s.shape)))[1])
    return values if x.dim() == 2 else values.view(k, groups).T
