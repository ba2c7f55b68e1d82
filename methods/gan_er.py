"""GAN + entropy regulariser, the paper's "GAN+ER" baseline (Tao et al. 2019, "Variational annealing of GANs: a
Langevin perspective", ICML, §3-4, with a DAE score estimator). The generator ascends the entropy of P_G:

    min_G  L_G − entropy_weight · H(q_G),
    ∇_θ H(q_G) = −E_z[(∂G(z)/∂θ)ᵀ ∇_x log q_G(x)|_{x=G(z)}],

with ∇ log q_G ≈ (r(x) − x)/σ² from a denoising auto-encoder r fitted, `dae_steps` steps per iteration, on the
current generated batch (methods/core/entropy.py; Li & Turner 2018 use a Stein gradient estimator instead).
L_G and the discriminator steps are the GAN's (methods/gan.py); the regulariser is the generator term `Entropy`
(methods/core/terms.py).
"""
from __future__ import annotations

from methods import register
from methods.core.base import Method
from methods.core.nets import critic, generator
from methods.core.terms import Entropy
from methods.core.updates import GAN_PARAMETERS, AdversarialTraining


@register
class GanEr(Method):
    name = "gan_er"
    kind = "implicit"
    loss = "gan"  # the adversarial loss (methods/core/losses.py); wgan_er: "wgan"
    has_generator = True
    stackable = True
    hyperparameters = {**GAN_PARAMETERS, **Entropy.hyperparameters}

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        self.generator, self.critic = generator(hp, data_shape, self.stack), critic(hp, data_shape, self.stack)
        self.dae = self.score_estimator("dae", "implicit")  # ∇ log q_G, fitted on generated samples
        self.updates = AdversarialTraining(self, self.loss, [Entropy(self.dae, self.hp["entropy_weight"])])

    def train_step(self, data):
        return self.updates(data)
