"""WGAN-GP + entropy regulariser (SPEC §2.3, the paper's "WGAN+ER" baseline): methods.gan_er's regulariser on
WGAN-GP's critic and generator loss (methods.wgan_gp),

    min_G  −E[D(G(z))] − entropy_weight · H(q_G),   ∇ log q_G from a DAE fitted on generated samples.
"""
from __future__ import annotations

from methods import register
from methods.gan_er import GanEr


@register
class WganEr(GanEr):
    name = "wgan_er"
    adversarial = "wgan"
