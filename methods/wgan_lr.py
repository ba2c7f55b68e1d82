"""WGAN-GP + likelihood regulariser (SPEC §2.3, the paper's "WGAN+LR" baseline): methods.gan_lr's regulariser on
WGAN-GP's critic and generator loss (methods.wgan_gp),

    min_G  −E[D(G(z))] − likelihood_weight · E_z[log p_data(G(z))],   ∇ log p_data from a DAE fitted on data.
"""
from __future__ import annotations

from methods import register
from methods.gan_lr import GanLr


@register
class WganLr(GanLr):
    name = "wgan_lr"
    adversarial = "wgan"
