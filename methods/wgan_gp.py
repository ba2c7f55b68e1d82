"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1). SPEC §2.3.

Per iteration, `critic_steps` critic updates descending

    L_D = E[D(G(z))] − E[D(x)] + gp_weight · E[(‖∇D(x̂)‖ − 1)²],   x̂ = εx + (1−ε)G(z), ε ~ U[0, 1]

(`penalty: hinge` replaces the two-sided penalty by the released code's one-sided relu(‖∇D(x̂)‖ − 1)²),
each on a fresh data batch, then one generator update descending L_G = −E[D(G(z))] (+ the `generator_extra` term
of a regularised variant). Adam, β1 = 0.5 (implicit side). `adversarial = "gan"` turns it into the GAN (`methods.gan`).
"""
from __future__ import annotations

import torch

from methods import register
from methods.core.base import Method
from methods.core.losses import critic_loss, generator_loss
from methods.core.nets import Critic, Generator


@register
class WganGp(Method):
    name = "wgan_gp"
    has_generator = True
    adversarial = "wgan"  # D1 of the family: "wgan" or "gan" (methods.core.losses)

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        d = data_shape[0]
        self.generator, self.critic = Generator(hp, d), Critic(hp, d)
        self.opt_g = self.adam("generator", self.generator, hp["lr_implicit"], hp["beta1_implicit"])
        self.opt_d = self.adam("critic", self.critic, hp["lr_implicit"], hp["beta1_implicit"])

    def critic_step(self, data) -> torch.Tensor:
        real = data.batch()
        with torch.no_grad():
            fake = self.generator(real.shape[0])
        loss = critic_loss(self.adversarial, self.critic, real, fake, self.hp)
        self.step(self.opt_d, loss)
        return loss.detach()

    def train_step(self, data):
        for _ in range(self.hp["critic_steps"]):
            loss_d = self.critic_step(data)
        fake = self.generator(self.hp["batch_size"])
        loss_g = generator_loss(self.adversarial, self.critic, fake)
        extra, logs = self.generator_extra(fake, data)
        self.step(self.opt_g, loss_g + extra)
        return {"critic": loss_d, "generator": loss_g.detach(), **logs}

    def generator_extra(self, fake: torch.Tensor, data) -> tuple[torch.Tensor | float, dict]:
        """Hook for regularised variants (`*_lr`, `*_er`, `*_va`): a term added to the generator loss at the
        generated batch `fake` (with its graph), and named values to log; none here."""
        return 0.0, {}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return self.generator(n)
