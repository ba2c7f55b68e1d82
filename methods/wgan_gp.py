"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1).

Per iteration, `critic_steps` critic updates descending

    L_D = E[D(G(z))] − E[D(x)] + gp_weight · E[(‖∇D(x̂)‖ − 1)²],   x̂ = εx + (1−ε)G(z), ε ~ U[0, 1]

(`penalty: hinge` replaces the two-sided penalty by the released code's one-sided, unsquared relu(‖∇D(x̂)‖ − 1)),
each on a fresh data batch and fresh generated samples, then one generator update descending L_G = −E[D(G(z))].
Adam, β1 = 0.5 (implicit side). The blocks: methods/core/updates.py `AdversarialTraining`.
"""
from __future__ import annotations

from methods import register
from methods.core.base import Method
from methods.core.nets import critic, generator
from methods.core.updates import WGAN_GP_PARAMETERS, AdversarialTraining


@register
class WganGp(Method):
    name = "wgan_gp"
    kind = "implicit"
    has_generator = True
    stackable = True
    hyperparameters = WGAN_GP_PARAMETERS

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        self.generator, self.critic = generator(hp, data_shape, self.stack), critic(hp, data_shape, self.stack)
        self.updates = AdversarialTraining(self, "wgan")

    def train_step(self, data):
        return self.updates(data)  # critic_steps critic steps, then one generator step
