"""Vanilla GAN (Goodfellow et al. 2014, "Generative Adversarial Nets", Algorithm 1 and §3).

Per iteration, `critic_steps` (k = 1 in the paper) discriminator updates descending the cross-entropy

    L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))],     D(x) a logit,

each on a fresh data batch, then one generator update descending the non-saturating loss
L_G = −E[log σ(D(G(z)))] (§3: the same fixed point as E log(1 − σ(D(G(z)))), but strong gradients early on).
Same networks, optimisers and blocks as WGAN-GP (methods/wgan_gp.py); only the adversarial loss differs
(methods/core/losses.py).
"""
from __future__ import annotations

from methods import register
from methods.core.base import Method
from methods.core.nets import critic, generator
from methods.core.updates import GAN_PARAMETERS, AdversarialTraining


@register
class Gan(Method):
    name = "gan"
    kind = "implicit"
    has_generator = True
    stackable = True
    hyperparameters = GAN_PARAMETERS

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        self.generator, self.critic = generator(hp, data_shape, self.stack), critic(hp, data_shape, self.stack)
        self.updates = AdversarialTraining(self, "gan")

    def train_step(self, data):
        return self.updates(data)  # critic_steps discriminator steps, then one generator step
