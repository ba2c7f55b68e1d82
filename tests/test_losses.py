"""The WGAN-GP critic loss on the fused path (closed-form ∇D and its hand-written backward) against the
straightforward one (autograd double backward through `gradient_penalty`), and the GAN losses against BCE."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from methods.core.losses import critic_loss, generator_loss, gradient_penalty, penalty_from_grad
from methods.core.nets import Critic

F64 = torch.float64


def critic(activation: str = "tanh") -> Critic:
    torch.manual_seed(0)
    hp = {"hidden": 32, "layers": 2, "critic_activation": activation, "fused_gradients": True}
    return Critic(hp, 2).double()


def batch(seed: int):
    gen = torch.Generator().manual_seed(seed)
    return (3 * torch.randn(20, 2, dtype=F64, generator=gen), torch.randn(20, 2, dtype=F64, generator=gen),
            torch.rand(20, 1, dtype=F64, generator=gen))


@pytest.mark.parametrize("penalty", ["two_sided", "hinge"])
@pytest.mark.parametrize("activation", ["tanh", "leaky_relu", "silu"])
def test_fused_wgan_gp_matches_double_backward(activation, penalty):
    d = critic(activation)
    real, fake, eps = batch(1)
    hp = {"gp_weight": 10.0, "penalty": penalty}
    fused = critic_loss("wgan", d, real, fake, hp, eps)
    g_fused = torch.autograd.grad(fused, list(d.parameters()))
    plain = lambda x: d.net(x).squeeze(-1)  # noqa: E731  (no value_and_grad: the autograd path)
    reference = plain(fake).mean() - plain(real).mean() + 10.0 * gradient_penalty(plain, real, fake, penalty, eps)
    g_ref = torch.autograd.grad(reference, list(d.parameters()))
    torch.testing.assert_close(fused, reference, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_fused, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_gan_losses_are_binary_cross_entropy():
    d = critic()
    real, fake, _ = batch(2)
    d_real, d_fake = d(real), d(fake)
    expected = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
        F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    torch.testing.assert_close(critic_loss("gan", d, real, fake, {}), expected)
    torch.testing.assert_close(generator_loss("gan", d, fake),
                               F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake)))
    torch.testing.assert_close(generator_loss("wgan", d, fake), -d_fake.mean())


def test_generator_loss_reaches_the_generator_but_not_the_frozen_critic():
    d = critic()
    z = torch.randn(10, 2, dtype=F64, requires_grad=True)
    loss = generator_loss("wgan", d, 2 * z)
    (gz,) = torch.autograd.grad(loss, z)
    (ref,) = torch.autograd.grad(-d(2 * z).mean(), z)
    torch.testing.assert_close(gz, ref)
    assert loss.grad_fn is not None and all(p.grad is None for p in d.parameters())


def test_hinge_penalty_is_the_released_codes_unsquared_relu():
    """The released 2-D code's penalty is tf.nn.relu(gradient_norm - 1), averaged, not squared."""
    grad = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 2.0]], dtype=F64)  # norms 5, 0.5, 2
    assert penalty_from_grad(grad, "hinge").item() == pytest.approx((4 + 0 + 1) / 3)
    assert penalty_from_grad(grad, "two_sided").item() == pytest.approx((16 + 0.25 + 1) / 3)
