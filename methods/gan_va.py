"""GAN with variational annealing (Tao et al. 2019, "Variational annealing of GANs: a Langevin perspective",
ICML; SPEC §2.3, the paper's "GAN+VA" baseline): the entropy regulariser of methods.gan_er with its weight annealed
to 0, so the generator explores (high entropy) early and fits the data alone at the end:

    min_G  L_G − β_t · H(q_G),   β_t = entropy_weight · max(0, 1 − t / (anneal_fraction · iterations)),

t = 0, 1, … the iteration, kept in a buffer so a resumed run continues the schedule.
"""
from __future__ import annotations

import torch

from methods import register
from methods.gan_er import GanEr


@register
class GanVa(GanEr):
    name = "gan_va"

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def entropy_weight(self) -> float:
        horizon = self.hp["anneal_fraction"] * self.hp["iterations"]
        return self.hp["entropy_weight"] * max(0.0, 1.0 - int(self.iteration) / horizon) if horizon > 0 else 0.0

    def generator_extra(self, fake, data):
        term, logs = super().generator_extra(fake, data)  # uses β_t at the current t
        self.iteration += 1
        return term, logs
