"""WGAN-GP with variational annealing (SPEC §2.3, the paper's "WGAN+VA" baseline; Tao et al. 2019):
methods.gan_va's annealed entropy regulariser on WGAN-GP's critic and generator loss (methods.wgan_gp),

    min_G −E[D(G(z))] − β_t · H(q_G),  β_t = entropy_weight · max(0, 1 − t / (anneal_fraction · iterations))
"""
from __future__ import annotations

from methods import register
from methods.gan_va import GanVa


@register
class WganVa(GanVa):
    name = "wgan_va"
    adversarial = "wgan"
