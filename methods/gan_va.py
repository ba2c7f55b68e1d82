"""GAN with variational annealing, the paper's "GAN+VA" baseline (Tao et al. 2019, "Variational annealing of GANs:
a Langevin perspective", ICML): the entropy regulariser of methods/gan_er.py with its weight annealed to 0, so the
generator explores (high entropy) early and fits the data alone at the end:

    min_G  L_G − β_t · H(q_G),   β_t = entropy_weight · max(0, 1 − t / (anneal_fraction · iterations)),

t = 0, 1, … the iteration, kept in a buffer so a resumed run continues the schedule (methods/core/terms.py
`AnnealedEntropy`).
"""
from __future__ import annotations

import torch

from methods import register
from methods.core.base import Method
from methods.core.nets import critic, generator
from methods.core.terms import AnnealedEntropy
from methods.core.updates import GAN_PARAMETERS, AdversarialTraining


@register
class GanVa(Method):
    name = "gan_va"
    kind = "implicit"
    loss = "gan"  # the adversarial loss (methods/core/losses.py); wgan_va: "wgan"
    has_generator = True
    stackable = True
    hyperparameters = {**GAN_PARAMETERS, **AnnealedEntropy.hyperparameters}

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        hp = self.hp
        self.generator, self.critic = generator(hp, data_shape, self.stack), critic(hp, data_shape, self.stack)
        self.dae = self.score_estimator("dae", "implicit")  # ∇ log q_G, fitted on generated samples
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        entropy = AnnealedEntropy(self.dae, hp["entropy_weight"], hp["anneal_fraction"], hp["iterations"],
                                  clock=lambda: int(self.iteration))
        self.updates = AdversarialTraining(self, self.loss, [entropy])

    def train_step(self, data):
        logs = self.updates(data)  # the generator step's entropy weight is β_t at t = `iteration`
        self.iteration += 1
        return logs
