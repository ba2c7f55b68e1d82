"""WGAN-GP + likelihood regulariser, the paper's "WGAN+LR" baseline: methods/gan_lr.py's regulariser on WGAN-GP's
critic and generator loss (methods/wgan_gp.py),

    min_G  −E[D(G(z))] − likelihood_weight · E_z[log p_data(G(z))],   ∇ log p_data from a DAE fitted on data.
"""
from __future__ import annotations

from methods import register
from methods.core.terms import Likelihood
from methods.core.updates import WGAN_GP_PARAMETERS
from methods.gan_lr import GanLr


@register
class WganLr(GanLr):
    """gan_lr's algorithm on WGAN-GP's critic and generator loss (module docstring)."""

    name = "wgan_lr"
    loss = "wgan"
    hyperparameters = {**WGAN_GP_PARAMETERS, **Likelihood.hyperparameters}
