"""WGAN-GP + entropy regulariser, the paper's "WGAN+ER" baseline: methods/gan_er.py's regulariser on WGAN-GP's
critic and generator loss (methods/wgan_gp.py),

    min_G  −E[D(G(z))] − entropy_weight · H(q_G),   ∇ log q_G from a DAE fitted on generated samples.
"""
from __future__ import annotations

from methods import register
from methods.core.terms import Entropy
from methods.core.updates import WGAN_GP_PARAMETERS
from methods.gan_er import GanEr


@register
class WganEr(GanEr):
    """gan_er's algorithm on WGAN-GP's critic and generator loss (module docstring)."""

    name = "wgan_er"
    loss = "wgan"
    hyperparameters = {**WGAN_GP_PARAMETERS, **Entropy.hyperparameters}
