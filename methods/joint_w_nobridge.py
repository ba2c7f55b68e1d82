"""Ablation of Stein Bridging (the suite's, for claim C8 of evaluation/claims.py: the bridge is what helps):
methods/joint_w.py with the bridge cut, λ2 = 0.

    min_{E,G}  W(P_data, P_G) + λ1·S(P_data, p_E)

The two models train side by side on the same data, in the same loop, with the same networks and optimisers, but
neither sees the other: E is exactly `dem`, G exactly `wgan_gp`. `bridge_weight` is forced to 0 whatever the
config says (its declared default is 0 too, so the resolved hyper-parameters read true); S(G(z), p_E) is still
computed and logged (`stein_gen`), so the curves show how far apart the unbridged models drift.
"""
from __future__ import annotations

from methods import register
from methods.core.params import Param
from methods.joint_w import JointW


@register
class JointWNobridge(JointW):
    """joint_w with the bridge cut, λ2 = 0 (module docstring)."""

    name = "joint_w_nobridge"
    bridged = False
    hyperparameters = {**JointW.hyperparameters,
                       "bridge_weight": Param(0.0, "λ2: forced to 0 by this ablation, whatever the value", low=0)}
