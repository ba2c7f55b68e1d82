"""Stein Bridging with D1 = the GAN loss, "Joint-JS" (Wu, Gao & Zha, NeurIPS 2021, Algorithm 1). SPEC §2.4.

methods.joint_w with the Jensen-Shannon GAN in place of WGAN-GP: the discriminator (a logit D) descends
−E[log σ(D(x))] − E[log(1 − σ(D(G(z))))] and the generator the non-saturating −E[log σ(D(G(z)))] + λ2·S(G(z), p_E)
(methods.core.losses); the energy step and the λ2 schedule are joint_w's.
"""
from __future__ import annotations

from methods import register
from methods.joint_w import JointW


@register
class JointJs(JointW):
    name = "joint_js"
    adversarial = "gan"
