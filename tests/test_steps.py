"""The update blocks (methods/core/updates.py) on their fast path (closed-form gradients of methods/core/steps.py,
for MLPs with fused gradients) against the same blocks on their autograd path (the same networks with
`fused_gradients: false`): identical losses and parameters after each step, in float64, for the critic update
(WGAN-GP under both penalties), the energy update under every score and statistic, and the generator update on the
adversarial loss plus the Stein bridge."""
from __future__ import annotations

import pytest
import torch

from methods.core.nets import Critic, Energy, Generator
from methods.core.optim import Adam
from methods.core.terms import Adversarial, SteinBridge
from methods.core.updates import CriticUpdate, EnergyUpdate, GeneratorUpdate

F64 = torch.float64
NET = {"hidden": 24, "layers": 2, "critic_activation": "tanh", "energy_activation": "tanh", "experts": 4,
       "generator_activation": "leaky_relu", "noise_dim": 4, "noise_std": 1.0}
STEIN = {"kernel": "rbf", "bandwidth": 1.0, "statistic": "u", "imq_c": 1.0, "imq_beta": -0.5, "score": "log_density"}


def pair(cls, seed: int, **hp):
    """The same network twice: fused (fast path) and reference (autograd), each with its own Adam."""
    nets = []
    for fused in (True, False):
        torch.manual_seed(seed)
        net = cls({**NET, **hp, "fused_gradients": fused}, 2).double()
        nets.append((net, Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999))))
    return nets


def assert_same(a: torch.nn.Module, b: torch.nn.Module):
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("loss,penalty", [("wgan", "two_sided"), ("wgan", "hinge"), ("gan", "two_sided")])
def test_critic_update(loss, penalty):
    (fast, opt_fast), (ref, opt_ref) = pair(Critic, 0)
    hp = {"gp_weight": 10.0, "penalty": penalty}
    fast_update, ref_update = CriticUpdate(fast, opt_fast, loss, hp), CriticUpdate(ref, opt_ref, loss, hp)
    assert fast_update.fast == (loss == "wgan") and not ref_update.fast
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        real, fake = 2 * torch.randn(16, 2, dtype=F64, generator=gen), torch.randn(16, 2, dtype=F64, generator=gen)
        eps = torch.rand(16, 1, dtype=F64, generator=gen)
        torch.testing.assert_close(fast_update(real, fake, eps), ref_update(real, fake, eps), rtol=1e-10,
                                   atol=1e-12)
    assert_same(fast, ref)


@pytest.mark.parametrize("kernel,statistic,score,head", [
    ("rbf", "u", "log_density", "softplus_experts"), ("rbf", "v", "density_gradient", "sigmoid_experts"),
    ("imq", "u", "log_density", "softplus_experts"), ("rbf", "u", "log_density", "linear")])
@pytest.mark.parametrize("weights", [[1.0, 0.4], [1.0, 0.0], [0.7]])
def test_energy_update(kernel, statistic, score, head, weights):
    (fast, opt_fast), (ref, opt_ref) = pair(Energy, 2, energy_head=head)
    hp = {**STEIN, "kernel": kernel, "statistic": statistic, "score": score}
    fast_update, ref_update = EnergyUpdate(fast, opt_fast, hp), EnergyUpdate(ref, opt_ref, hp)
    assert fast_update.fast and not ref_update.fast
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):
        xs = list((2 * torch.randn(12 * len(weights), 2, dtype=F64, generator=gen)).chunk(len(weights)))
        torch.testing.assert_close(fast_update(xs, weights), ref_update(xs, weights), rtol=1e-10, atol=1e-12)
    assert_same(fast, ref)


@pytest.mark.parametrize("loss", ["wgan", "gan"])
@pytest.mark.parametrize("bridge_weight", [0.0, 0.5])
def test_generator_update(loss, bridge_weight):
    """G on the adversarial loss + λ2·KSD(G(z), p_E): closed-form gradients at G(z) against autograd through
    the fixed critic and energy."""
    (fast_d, _), (ref_d, _) = pair(Critic, 4)
    (fast_e, _), (ref_e, _) = pair(Energy, 5, energy_head="softplus_experts")
    (fast_g, opt_fast), (ref_g, opt_ref) = pair(Generator, 6)
    updates = []
    for g, d, e, opt in ((fast_g, fast_d, fast_e, opt_fast), (ref_g, ref_d, ref_e, opt_ref)):
        bridge = SteinBridge(e, STEIN)
        bridge.weight = bridge_weight
        updates.append(GeneratorUpdate(g, opt, [Adversarial(d, loss), bridge]))
    assert all(term.closed_form for term in updates[0].terms)
    assert not any(term.closed_form for term in updates[1].terms)
    gen = torch.Generator().manual_seed(7)
    for _ in range(3):
        z = torch.randn(16, 4, dtype=F64, generator=gen)
        logs_fast, logs_ref = updates[0](z, None), updates[1](z, None)
        torch.testing.assert_close(logs_fast["generator"], logs_ref["generator"], rtol=1e-10, atol=1e-12)
    assert_same(fast_g, ref_g)
