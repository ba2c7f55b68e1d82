"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1). SPEC §2.3.

Per iteration, `critic_steps` critic updates descending

    L_D = E[D(G(z))] − E[D(x)] + gp_weight · E[(‖∇D(x̂)‖ − 1)²],   x̂ = εx + (1−ε)G(z), ε ~ U[0, 1]

(`penalty: hinge` replaces the two-sided penalty by the released code's one-sided, unsquared relu(‖∇D(x̂)‖ − 1)),
each on a fresh data batch and fresh generated samples, then one generator update descending L_G = −E[D(G(z))]
(+ the `generator_extra` term
of a regularised variant). Adam, β1 = 0.5 (implicit side). `adversarial = "gan"` turns it into the GAN (`methods.gan`).
"""
from __future__ import annotations

import torch

from methods import register
from methods.core import steps
from methods.core.base import Method
from methods.core.losses import critic_loss, generator_loss
from methods.core.nets import critic, generator


@register
class WganGp(Method):
    name = "wgan_gp"
    kind = "implicit"
    has_generator = True
    adversarial = "wgan"  # D1 of the family: "wgan" or "gan" (methods.core.losses)

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        self.generator, self.critic = generator(hp, data_shape), critic(hp, data_shape)
        # Adam unless the method's config chooses (`optimizer_implicit`: the joint methods' released_code preset)
        implicit = (hp.get("optimizer_implicit", "adam"), hp["lr_implicit"], hp["beta1_implicit"])
        self.opt_g = self.optimizer("generator", self.generator, *implicit)
        self.opt_d = self.optimizer("critic", self.critic, *implicit)

    extra_batches = 0  # batches drawn with the critic's for `before_generator_step` (joint_w's energy step)

    def critic_step(self, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        if self.adversarial == "wgan" and steps.fusable(self.critic):  # closed-form gradients, same arithmetic
            return steps.wgan_gp_critic_step(self.critic, self.opt_d, real, fake, eps, self.hp["gp_weight"],
                                             self.hp["penalty"])
        loss = critic_loss(self.adversarial, self.critic, real, fake, self.hp, eps)
        self.step(self.opt_d, loss)
        return loss.detach()

    def train_step(self, data):
        b, n_d = self.hp["batch_size"], self.hp["critic_steps"]
        n = n_d + self.extra_batches
        # Neither the generator nor the data change before the generator step, so every batch the iteration needs
        # is drawn at once: one index draw and one generator pass instead of n. Draws are sequential (n batches in
        # one call equal n calls), and the generator step's noise is drawn before the batches, so a method with
        # extra batches sees exactly wgan_gp's critic batches and generator noise for the same seed.
        eps = torch.rand(n_d, b, 1)
        z = self.generator.noise(b)
        reals = data.batch(n * b).split(b)
        with torch.no_grad():
            fakes = self.generator(n * b).split(b)
        for k in range(n_d):
            loss_d = self.critic_step(reals[k], fakes[k], eps[k])
        logs = self.before_generator_step(reals[n_d:], fakes[n_d:])
        loss_g, gen_logs = self.generator_step(z, data)
        return {"critic": loss_d, "generator": loss_g, **logs, **gen_logs}

    def generator_step(self, z: torch.Tensor, data) -> tuple[torch.Tensor, dict]:
        """One generator step at G(z): the adversarial loss (+ `generator_extra`, + the closed-form
        `generator_input_grad`). With a fused critic the adversarial gradient at G(z) is written out and one
        backward pass through G carries every term; otherwise autograd differentiates the whole loss."""
        fake = self.generator(z.shape[0], z)
        extra, logs = self.generator_extra(fake, data)
        if not steps.fusable(self.critic):
            loss_g = generator_loss(self.adversarial, self.critic, fake)
            self.step(self.opt_g, loss_g + extra)
            return loss_g.detach(), logs
        loss_g, grad = steps.critic_input_grad(self.adversarial, self.critic, fake)
        more, more_logs = self.generator_input_grad(fake)
        if more is not None:
            grad = grad + more
        roots, grads = [fake], [grad]
        if torch.is_tensor(extra):
            roots.append(extra)
            grads.append(torch.ones_like(extra))
        self.opt_g.zero_grad()
        torch.autograd.backward(roots, grads, inputs=self.opt_g.params)
        self.opt_g.step()
        return loss_g, {**logs, **more_logs}

    def generator_input_grad(self, fake: torch.Tensor) -> tuple[torch.Tensor | None, dict]:
        """Hook: a further gradient of the generator loss at the samples `fake`, in closed form (joint_w's bridge),
        and named values to log; none here."""
        return None, {}

    def before_generator_step(self, reals: tuple, fakes: tuple) -> dict:
        """Hook between the critic steps and the generator step, given the `extra_batches` data batches and
        generated batches (detached) drawn with the critic's; returns named values to log. Nothing here."""
        return {}

    def generator_extra(self, fake: torch.Tensor, data) -> tuple[torch.Tensor | float, dict]:
        """Hook for regularised variants (`*_lr`, `*_er`, `*_va`): a term added to the generator loss at the
        generated batch `fake` (with its graph), and named values to log; none here."""
        return 0.0, {}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return self.generator(n)
