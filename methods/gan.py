"""Vanilla GAN (Goodfellow et al. 2014, "Generative Adversarial Nets", Algorithm 1 and §3). SPEC §2.3.

Per iteration, `critic_steps` (k = 1 in the paper) discriminator updates descending the cross-entropy

    L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))],     D(x) a logit,

each on a fresh data batch, then one generator update descending the non-saturating loss
L_G = −E[log σ(D(G(z)))] (§3: the same fixed point as E log(1 − σ(D(G(z)))), but strong gradients early on).
Same networks and optimisers as WGAN-GP (Adam, β1 = 0.5); only the adversarial loss differs (methods.core.losses).
"""
from __future__ import annotations

from methods import register
from methods.wgan_gp import WganGp


@register
class Gan(WganGp):
    name = "gan"
    adversarial = "gan"
