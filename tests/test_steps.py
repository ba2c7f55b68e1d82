"""The closed-form training steps (methods/core/steps.py) against the same steps through autograd: identical
parameters after a step, for the WGAN-GP critic and the KSD energy step under every score and statistic."""
from __future__ import annotations

import pytest
import torch

from methods.core import steps
from methods.core.losses import critic_loss
from methods.core.nets import Critic, Energy
from methods.core.optim import Adam
from methods.core.stein import discrepancies, model_score

F64 = torch.float64
NET = {"hidden": 24, "layers": 2, "critic_activation": "tanh", "energy_activation": "tanh", "experts": 4}


def pair(cls, seed: int, **hp):
    """The same network twice: fused (closed-form step) and reference (autograd), each with its own Adam."""
    nets = []
    for fused in (True, False):
        torch.manual_seed(seed)
        net = cls({**NET, **hp, "fused_gradients": fused}, 2).double()
        nets.append((net, Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999))))
    return nets


def assert_same(a: torch.nn.Module, b: torch.nn.Module):
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("penalty", ["two_sided", "hinge"])
def test_wgan_gp_critic_step(penalty):
    (fast, opt_fast), (ref, opt_ref) = pair(Critic, 0)
    gen = torch.Generator().manual_seed(1)
    hp = {"gp_weight": 10.0, "penalty": penalty}
    for _ in range(3):
        real, fake = 2 * torch.randn(16, 2, dtype=F64, generator=gen), torch.randn(16, 2, dtype=F64, generator=gen)
        eps = torch.rand(16, 1, dtype=F64, generator=gen)
        loss_fast = steps.wgan_gp_critic_step(fast, opt_fast, real, fake, eps, hp["gp_weight"], penalty)
        loss_ref = critic_loss("wgan", ref, real, fake, hp, eps)
        opt_ref.zero_grad()
        loss_ref.backward()
        opt_ref.step()
        torch.testing.assert_close(loss_fast, loss_ref.detach(), rtol=1e-10, atol=1e-12)
    assert_same(fast, ref)


@pytest.mark.parametrize("kernel,statistic,score,head", [
    ("rbf", "u", "log_density", "softplus_experts"), ("rbf", "v", "density_gradient", "sigmoid_experts"),
    ("imq", "u", "log_density", "softplus_experts"), ("rbf", "u", "log_density", "linear")])
def test_ksd_energy_step(kernel, statistic, score, head):
    (fast, opt_fast), (ref, opt_ref) = pair(Energy, 2, energy_head=head)
    hp = {"kernel": kernel, "bandwidth": 1.0, "statistic": statistic, "imq_c": 1.0, "imq_beta": -0.5,
          "score": score}
    gen = torch.Generator().manual_seed(3)
    weights = [1.0, 0.4]
    for _ in range(3):
        x = 2 * torch.randn(24, 2, dtype=F64, generator=gen)
        values = steps.ksd_energy_step(fast, opt_fast, x, weights, hp)
        ref_values = discrepancies(x, model_score(ref, x, score), 2, hp)
        opt_ref.zero_grad()
        (weights[0] * ref_values[0] + weights[1] * ref_values[1]).backward()
        opt_ref.step()
        torch.testing.assert_close(values, ref_values.detach(), rtol=1e-10, atol=1e-12)
    assert_same(fast, ref)
