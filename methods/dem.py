"""Deep energy model trained alone by Stein discrepancy minimisation (SPEC §2.3, `dem`): the λ1 term of Stein
Bridging without the generator,

    min_E  S(P_data, p_E),   p_E(x) ∝ exp(−E(x)),   score s = −∇_x E  (or ∇p with `score: density_gradient`),

one Adam step (β1 = 0.9, explicit side) per iteration on a fresh data batch. S is exactly Stein Bridging's λ1
term (`methods.core.stein`): the KSD with the `stein:` options (kernel, bandwidth, U/V statistic) on 2-D data, or,
with `discrepancy: neural` (images), the neural Stein discrepancy, whose critic first takes `critic_steps_stein`
ascent steps on S_f(data) (Grathwohl et al. 2020, "Learning the Stein discrepancy").
"""
from __future__ import annotations

import torch

from methods import register
from methods.core import steps
from methods.core.base import Method
from methods.core.nets import energy
from methods.core.stein import SteinCritic, critic_ascent_loss, stein_discrepancy


@register
class Dem(Method):
    name = "dem"
    kind = "explicit"
    has_energy = True

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        self.energy_net = energy(hp, data_shape)
        self.opt_e = self.adam("energy", self.energy_net, hp["lr_explicit"], hp["beta1_explicit"])
        self.stein_critic = SteinCritic(hp, data_shape) if hp["discrepancy"] == "neural" else None
        if self.stein_critic is not None:
            self.opt_f = self.adam("stein_critic", self.stein_critic, hp["lr_explicit"], hp["beta1_explicit"])

    def train_step(self, data):
        logs = {}
        if self.stein_critic is not None:
            for _ in range(self.hp["critic_steps_stein"]):
                loss_f = critic_ascent_loss(self.stein_critic, self.energy_net, [(1.0, data.batch())],
                                            self.hp["score"])
                self.step(self.opt_f, loss_f)
            logs["stein_critic"] = loss_f.detach()
        elif steps.fusable(self.energy_net):  # closed-form gradients (methods/core/steps.py), same arithmetic
            return {"ksd_data": steps.ksd_energy_step(self.energy_net, self.opt_e, data.batch(), [1.0], self.hp)[0]}
        loss = stein_discrepancy(self.energy_net, data.batch(), self.hp, self.stein_critic)
        self.step(self.opt_e, loss)
        return {"ksd_data": loss.detach(), **logs}

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy_net(x)
