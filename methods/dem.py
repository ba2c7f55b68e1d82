"""Deep energy model trained alone by Stein discrepancy minimisation (`dem`): the λ1 term of Stein Bridging (paper
§3) without the generator,

    min_E  S(P_data, p_E),   p_E(x) ∝ exp(−E(x)),   score s = −∇_x E  (or ∇p with `score: density_gradient`),

n_e = `energy_steps` Adam steps (β1 = 0.9, explicit side) per iteration, each on a fresh data batch. S is exactly
Stein Bridging's λ1 term (methods/core/updates.py `EnergyUpdate`): the KSD with the `stein:` options (kernel,
bandwidth, U/V statistic) on 2-D data, or, with `discrepancy: neural` (images), the neural Stein discrepancy, whose
critic first takes `critic_steps_stein` ascent steps on S_f(data) (Grathwohl et al. 2020, "Learning the Stein
discrepancy") before the energy's steps.
"""
from __future__ import annotations

from methods import register
from methods.core.base import Method
from methods.core.nets import energy
from methods.core.updates import ENERGY_PARAMETERS, EnergyUpdate, stein_critic


@register
class Dem(Method):
    name = "dem"
    kind = "explicit"
    has_energy = True
    stackable = True
    hyperparameters = {**ENERGY_PARAMETERS}  # S and its options are the shared `stein:` section

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        hp = self.hp
        self.energy_net = energy(hp, data_shape, self.stack)
        opt_e = self.adam("energy", self.energy_net, hp["lr_explicit"], hp["beta1_explicit"], "explicit")
        self.stein_critic = stein_critic(hp, data_shape)  # None for the KSD
        opt_f = None if self.stein_critic is None else \
            self.adam("stein_critic", self.stein_critic, hp["lr_explicit"], hp["beta1_explicit"], "explicit")
        self.energy_update = EnergyUpdate(self.energy_net, opt_e, hp, self.stein_critic, opt_f)

    def train_step(self, data):
        logs = {}
        if self.stein_critic is not None:  # n_c ascent steps of f on S_f(data)
            for _ in range(self.hp["critic_steps_stein"]):
                logs["stein_critic"] = self.energy_update.critic_step([(1.0, data.batch())])
        for _ in range(self.hp["energy_steps"]):
            s_data = self.energy_update([data.batch()], [1.0])[0]
        return {"ksd_data": s_data, **logs}
