"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1). SPEC §2.3.

Per iteration, `critic_steps` critic updates descending

    L_D = E[D(G(z))] − E[D(x)] + gp_weight · E[(‖∇D(x̂)‖ − 1)²],   x̂ = εx + (1−ε)G(z), ε ~ U[0, 1]

(`penalty: hinge` replaces the two-sided penalty by the released code's one-sided relu(‖∇D(x̂)‖ − 1)²),
then one generator update descending L_G = −E[D(G(z))]. Adam, β1 = 0.5 (implicit side).
"""
from __future__ import annotations

import torch

from methods import register
from methods.core.base import Method
from methods.core.nets import Critic, Generator

PENALTIES = ("two_sided", "hinge")


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, kind: str = "two_sided") -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] at random interpolates x̂ of real and fake (`hinge`: only norms above 1 are penalised)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    excess = grad.flatten(1).norm(dim=1) - 1
    if kind == "hinge":
        excess = excess.clamp_min(0)
    elif kind != "two_sided":
        raise ValueError(f"unknown gradient penalty {kind!r}; valid: {', '.join(PENALTIES)}")
    return excess.pow(2).mean()


@register
class WganGp(Method):
    name = "wgan_gp"
    has_generator = True

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        d = data_shape[0]
        self.generator, self.critic = Generator(hp, d), Critic(hp, d)
        self.opt_g = self.adam("generator", self.generator, hp["lr_implicit"], hp["beta1_implicit"])
        self.opt_d = self.adam("critic", self.critic, hp["lr_implicit"], hp["beta1_implicit"])

    def critic_loss(self, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = self.generator(real.shape[0])
        gp = gradient_penalty(self.critic, real, fake, self.hp["penalty"])
        return self.critic(fake).mean() - self.critic(real).mean() + self.hp["gp_weight"] * gp

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -self.critic(fake).mean()

    def train_step(self, data):
        for _ in range(self.hp["critic_steps"]):
            loss_d = self.critic_loss(data.batch())
            self.step(self.opt_d, loss_d)
        loss_g = self.generator_loss(self.generator(self.hp["batch_size"]))
        self.step(self.opt_g, loss_g)
        return {"critic": loss_d.detach(), "generator": loss_g.detach()}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return self.generator(n)
