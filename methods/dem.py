"""Deep energy model trained alone by Stein discrepancy minimisation (SPEC §2.3, `dem`): the λ1 term of Stein
Bridging without the generator,

    min_E  S(P_data, p_E),   p_E(x) ∝ exp(−E(x)),   score s = −∇_x E  (or ∇p with `score: density_gradient`),

one Adam step (β1 = 0.9, explicit side) per iteration on a fresh data batch. S is the KSD with the `stein:`
options (kernel, bandwidth, U/V statistic), exactly Stein Bridging's λ1 term (`methods.core.stein`).
"""
from __future__ import annotations

import torch

from methods import register
from methods.core import steps
from methods.core.base import Method
from methods.core.nets import Energy
from methods.core.stein import stein_discrepancy


@register
class Dem(Method):
    name = "dem"
    has_energy = True

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        self.energy_net = Energy(hp, data_shape[0])
        self.opt_e = self.adam("energy", self.energy_net, hp["lr_explicit"], hp["beta1_explicit"])

    def train_step(self, data):
        if steps.fusable(self.energy_net):  # closed-form gradients (methods/core/steps.py), same arithmetic
            return {"ksd_data": steps.ksd_energy_step(self.energy_net, self.opt_e, data.batch(), [1.0], self.hp)[0]}
        loss = stein_discrepancy(self.energy_net, data.batch(), self.hp)
        self.step(self.opt_e, loss)
        return {"ksd_data": loss.detach()}

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy_net(x)
