"""GAN + entropy regulariser (SPEC §2.3, the paper's "GAN+ER" baseline; Tao et al. 2019, "Variational annealing of
GANs: a Langevin perspective", ICML, §3-4, with a DAE score estimator). The generator ascends the entropy of P_G:

    min_G  L_G − entropy_weight · H(q_G),
    ∇_θ H(q_G) = −E_z[(∂G(z)/∂θ)ᵀ ∇_x log q_G(x)|_{x=G(z)}],

with ∇ log q_G ≈ (r(x) − x)/σ² from a denoising auto-encoder r fitted, `dae_steps` steps per iteration, on the
current generated batch (methods.core.entropy; Li & Turner 2018 use a Stein gradient estimator instead).
The DAE and the discriminator steps are those of methods.gan_lr / methods.gan; only the DAE's training sample and
the sign differ.
"""
from __future__ import annotations

import torch

from methods import register
from methods.core.entropy import surrogate
from methods.gan_lr import GanLr


@register
class GanEr(GanLr):
    name = "gan_er"

    def entropy_weight(self) -> float:
        return self.hp["entropy_weight"]

    def generator_extra(self, fake, data):
        loss_dae = self.dae.fit(fake)  # fitted on (detached) generator samples: s ≈ ∇ log q_G
        neg_entropy = surrogate(self.dae.score(fake), fake)  # gradient: −∇_θ H(q_G)
        weight = self.entropy_weight()
        return weight * neg_entropy, {"dae": loss_dae, "entropy_weight": torch.tensor(weight)}
