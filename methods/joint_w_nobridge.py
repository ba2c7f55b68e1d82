"""Ablation of Stein Bridging (SPEC §2.3, §6 C8): methods.joint_w with the bridge cut, λ2 = 0.

    min_{E,G}  W(P_data, P_G) + λ1·S(P_data, p_E)

The two models train side by side on the same data, in the same loop, with the same networks and optimisers, but
neither sees the other: E is exactly `dem`, G exactly `wgan_gp`. `bridge_weight` is forced to 0 whatever the
config says (its config entry says 0 too, so the resolved hyper-parameters read true); S(G(z), p_E) is still
computed and logged (`stein_gen`), so the curves show how far apart the unbridged models drift.
"""
from __future__ import annotations

from methods import register
from methods.joint_w import JointW


@register
class JointWNobridge(JointW):
    name = "joint_w_nobridge"

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__({**hp, "bridge_weight": 0.0}, data_shape)
