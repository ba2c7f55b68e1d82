"""GAN + likelihood regulariser, the paper's "GAN+LR" baseline (Warde-Farley & Bengio 2017, "Improving generative
adversarial networks with denoising feature matching"). The generator also ascends log p_data at its samples:

    min_G  L_G − likelihood_weight · E_z[log p_data(G(z))],

whose gradient E_z[(∂G(z)/∂θ)ᵀ ∇_x log p_data(G(z))] uses a denoising auto-encoder r fitted on data batches,
∇ log p_data(x) ≈ (r(x) − x)/σ² (Alain & Bengio 2014; methods/core/entropy.py), `dae_steps` DAE steps on a fresh
data batch per iteration. L_G and the discriminator steps are the GAN's (methods/gan.py); the regulariser is the
generator term `Likelihood` (methods/core/terms.py).
"""
from __future__ import annotations

from methods import register
from methods.core.base import Method
from methods.core.nets import critic, generator
from methods.core.terms import Likelihood
from methods.core.updates import GAN_PARAMETERS, AdversarialTraining


@register
class GanLr(Method):
    name = "gan_lr"
    kind = "implicit"
    loss = "gan"  # the adversarial loss (methods/core/losses.py); wgan_lr: "wgan"
    has_generator = True
    stackable = True
    hyperparameters = {**GAN_PARAMETERS, **Likelihood.hyperparameters}

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        self.generator, self.critic = generator(hp, data_shape, self.stack), critic(hp, data_shape, self.stack)
        self.dae = self.score_estimator("dae", "implicit")  # ∇ log p_data, fitted on data
        self.updates = AdversarialTraining(self, self.loss, [Likelihood(self.dae, self.hp["likelihood_weight"])])

    def train_step(self, data):
        return self.updates(data)
