"""GAN + likelihood regulariser (Warde-Farley & Bengio 2017, "Improving generative adversarial networks with
denoising feature matching"; SPEC §2.3, the paper's "GAN+LR" baseline). The generator also ascends log p_data at
its samples:

    min_G  L_G − likelihood_weight · E_z[log p_data(G(z))],

whose gradient E_z[(∂G(z)/∂θ)ᵀ ∇_x log p_data(G(z))] uses a denoising auto-encoder r fitted on data batches,
∇ log p_data(x) ≈ (r(x) − x)/σ² (Alain & Bengio 2014; methods.core.entropy.DAEScore), `dae_steps` DAE steps on a
fresh data batch per iteration. L_G and the discriminator steps are the GAN's (methods.gan).
"""
from __future__ import annotations

import math

from methods import register
from methods.core.entropy import DAEScore, surrogate
from methods.gan import Gan


@register
class GanLr(Gan):
    name = "gan_lr"

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        self.dae = DAEScore(hp, math.prod(data_shape))
        self.optimizers["dae"] = self.dae.opt  # so checkpoints carry its Adam slots

    def generator_extra(self, fake, data):
        loss_dae = self.dae.fit(data.batch())
        log_lik = surrogate(self.dae.score(fake), fake)  # gradient: E[(∂G/∂θ)ᵀ ∇ log p_data(G(z))]
        return -self.hp["likelihood_weight"] * log_lik, {"dae": loss_dae}
