"""WGAN-GP with variational annealing, the paper's "WGAN+VA" baseline (Tao et al. 2019): methods/gan_va.py's
annealed entropy regulariser on WGAN-GP's critic and generator loss (methods/wgan_gp.py),

    min_G −E[D(G(z))] − β_t · H(q_G),  β_t = entropy_weight · max(0, 1 − t / (anneal_fraction · iterations))
"""
from __future__ import annotations

from methods import register
from methods.core.terms import AnnealedEntropy
from methods.core.updates import WGAN_GP_PARAMETERS
from methods.gan_va import GanVa


@register
class WganVa(GanVa):
    """gan_va's algorithm on WGAN-GP's critic and generator loss (module docstring)."""

    name = "wgan_va"
    loss = "wgan"
    hyperparameters = {**WGAN_GP_PARAMETERS, **AnnealedEntropy.hyperparameters}
