"""Stein Bridging with D1 = the GAN loss, "Joint-JS" (Wu, Gao & Zha, NeurIPS 2021, Algorithm 1).

methods/joint_w.py's algorithm with the Jensen-Shannon GAN in place of WGAN-GP: the discriminator (a logit D)
descends −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))] and the generator the non-saturating −E[log σ(D(G(z)))] +
λ2·S(G(z), p_E) (methods/core/losses.py); the energy step and the λ2 schedule are joint_w's. `critic_steps` is the
GAN family's k = 1, not Algorithm 1's n_d = 5, so that joint_js and gan differ only by the energy model and the
bridge; gp_weight and penalty are declared as joint_w's, unused by the GAN loss.
"""
from __future__ import annotations

from methods import register
from methods.core.updates import GAN_PARAMETERS
from methods.joint_w import JointW


@register
class JointJs(JointW):
    """joint_w's algorithm with D1 = the GAN loss (module docstring)."""

    name = "joint_js"
    loss = "gan"
    hyperparameters = {**JointW.hyperparameters, **GAN_PARAMETERS}
