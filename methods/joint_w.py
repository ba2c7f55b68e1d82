"""Stein Bridging with D1 = WGAN-GP, "Joint-W" (Wu, Gao & Zha, NeurIPS 2021, §3 and Algorithm 1).

An energy model p_E ∝ exp(−E) and a generator x = G(z) are trained jointly:

    min_{E,G}  D1(P_data, P_G) + λ1·S(P_data, p_E) + λ2·S(P_G, p_E)

Per iteration t (`train_step`, top to bottom):
  1. n_d = `critic_steps` critic steps on D1 (the WGAN-GP critic loss, methods/wgan_gp.py), fresh data each;
  2. with `discrepancy: neural` only: n_c = `critic_steps_stein` ascent steps of the Stein critic f on
     λ1·S_f(data) + λ2·S_f(G(z)), each minus its L2 penalty (methods/core/stein.py `SteinCritic`);
  3. n_e = `energy_steps` energy steps (Algorithm 1: one) descending λ1·S(x, p_E) + λ2·S(G(z), p_E), with G held
     fixed, each on fresh data and generated batches;
  4. one generator step descending L_G(G(z)) + λ2·S(G(z), p_E): the bridge reaches G through the positions G(z),
     because S is differentiable in them (the score s = −∇E at G(z) is differentiated once more).
G and the data do not change before step 4, so the batches of steps 1-3 are drawn together, after the generator
step's noise: without the bridge, G and D follow wgan_gp's exactly for the same seed.

S is the kernel Stein discrepancy on 2-D data (`discrepancy: ksd`; the `stein:` section's kernel, bandwidth,
U/V statistic and `score`), the neural one on images. λ1 = `data_weight`; λ2 follows

    λ2(t) = 0 for t < t0,   λ2(t) = bridge_weight · min(1, (t − t0) / (bridge_warmup · iterations)) after,

t0 = `bridge_start` (the paper's warm-up study), t = iterations already done, kept in the `iteration` buffer so a
resumed run continues the schedule. Optimisers: `optimizer_implicit` for G and D (Adam, β1 = 0.5),
`optimizer_explicit` for E and f (Adam, β1 = 0.9).

`stein_updates: separate` reproduces the released 2-D code's update order instead of steps 3-4: the GAN generator
step; an energy step on λ1·S(data); a generator step on λ2·S(G(z)); an energy step on λ2·S(G(z)); each Stein step
with its own optimiser of kind `optimizer_explicit` (the released "optimizer_KSD") at its side's learning rate.

joint_js (D1 = the GAN loss) and joint_w_nobridge (λ2 = 0) are this algorithm with another `loss` and `bridged`.
"""
from __future__ import annotations

import torch

from methods import register
from methods.core.base import OPTIMIZERS, Method
from methods.core.nets import critic, energy, generator
from methods.core.params import Param
from methods.core.terms import Adversarial, SteinBridge
from methods.core.updates import (ENERGY_PARAMETERS, WGAN_GP_PARAMETERS, CriticUpdate, EnergyUpdate,
                                  GeneratorUpdate, draw, stein_critic)

STEIN_UPDATES = ("joint", "separate")


@register
class JointW(Method):
    name = "joint_w"
    kind = "joint"
    has_generator = True
    stackable = True
    has_energy = True
    loss = "wgan"   # D1 (methods/core/losses.py); joint_js: "gan"
    bridged = True  # joint_w_nobridge: False, λ2 = 0 whatever `bridge_weight` says
    hyperparameters = {
        **WGAN_GP_PARAMETERS,
        **ENERGY_PARAMETERS,
        "data_weight": Param(1.0, "λ1 on S(P_data, p_E)", low=0),
        "bridge_weight": Param(1.0, "λ2 on the bridge S(P_G, p_E) (1: the released code's; no value in the paper's "
                               "text)", low=0),
        "bridge_warmup": Param(0.25, "λ2 ramps linearly from 0 to bridge_weight over this fraction of `iterations` "
                               "(0: at once)", low=0),
        "bridge_start": Param(0, "λ2 = 0 before this iteration, the ramp starts here (the paper's warm-up study)",
                              low=0),
        "optimizer_implicit": Param("adam", "generator and critic: adam | rmsprop (learning rates and β1 from "
                                    "`optim:`)", choices=OPTIMIZERS),
        "optimizer_explicit": Param("adam", "energy and Stein critic: adam | rmsprop", choices=OPTIMIZERS),
        "rmsprop_alpha": Param(0.9, "RMSProp smoothing constant: TF1's default decay, as released", low=0, high=1),
        "stein_updates": Param("joint", "joint (Algorithm 1: one step per model on its summed loss) | separate "
                               "(released code: one step per Stein loss)", choices=STEIN_UPDATES),
    }

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp if self.bridged else {**hp, "bridge_weight": 0.0}, data_shape, stack)
        hp = self.hp
        joint = hp["stein_updates"] == "joint"
        if not joint and hp["energy_steps"] != 1:
            raise ValueError(f"energy_steps = {hp['energy_steps']} needs stein_updates: joint (the released order "
                             "`separate` takes one energy step per Stein loss); set energy_steps: 1")
        implicit = (hp["optimizer_implicit"], hp["lr_implicit"], hp["beta1_implicit"], "implicit")
        explicit = (hp["optimizer_explicit"], hp["lr_explicit"], hp["beta1_explicit"], "explicit")
        self.generator, self.critic = generator(hp, data_shape, self.stack), critic(hp, data_shape, self.stack)
        self.energy_net, self.stein_critic = energy(hp, data_shape, self.stack), stein_critic(hp, data_shape)
        opt_g = self.optimizer("generator", self.generator, *implicit)
        self.critic_update = CriticUpdate(self.critic, self.optimizer("critic", self.critic, *implicit), self.loss,
                                          hp)
        opt_f = None if self.stein_critic is None else self.optimizer("stein_critic", self.stein_critic, *explicit)
        self.energy_update = EnergyUpdate(self.energy_net, self.optimizer("energy", self.energy_net, *explicit), hp,
                                          self.stein_critic, opt_f)
        self.bridge = SteinBridge(self.energy_net, hp, self.stein_critic)  # λ2·S(G(z), p_E); λ2 set per iteration
        terms = [Adversarial(self.critic, self.loss)] + ([self.bridge] if joint else [])  # D1's loss + the bridge
        self.generator_update = GeneratorUpdate(self.generator, opt_g, terms)
        if not joint:  # the released order: a generator step and an energy step on the bridge alone
            opt_gs = self.optimizer("generator_stein", self.generator, explicit[0], hp["lr_implicit"],
                                    hp["beta1_explicit"], "implicit")
            self.generator_bridge_update = GeneratorUpdate(self.generator, opt_gs, [self.bridge])
            self.energy_bridge_update = EnergyUpdate(self.energy_net,
                                                     self.optimizer("energy_bridge", self.energy_net, *explicit), hp,
                                                     self.stein_critic)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.lam2 = 0.0  # λ2 of the current iteration

    def bridge_schedule(self, t: int) -> float:
        """λ2 after t finished iterations (module docstring)."""
        hp = self.hp
        if t < hp["bridge_start"]:
            return 0.0
        ramp = hp["bridge_warmup"] * hp["iterations"]
        return hp["bridge_weight"] * (min(1.0, (t - hp["bridge_start"]) / ramp) if ramp > 0 else 1.0)

    def train_step(self, data):
        """One iteration of Algorithm 1 (module docstring)."""
        hp, b = self.hp, self.hp["batch_size"]
        lam1 = hp["data_weight"]
        lam2 = self.lam2 = self.bridge.weight = self.bridge_schedule(int(self.iteration))
        self.iteration += 1
        joint = hp["stein_updates"] == "joint"
        n_d, n_c = hp["critic_steps"], 0 if self.stein_critic is None else hp["critic_steps_stein"]
        n_e = hp["energy_steps"] if joint else 0
        eps, z, reals, fakes = draw(data, self.generator, b, n_d, extra=n_c + n_e)
        # 1. n_d critic steps on D1
        for k in range(n_d):
            loss_d = self.critic_update(reals[k], fakes[k], eps[k])
        logs = {}
        # 2. n_c Stein-critic steps, ascending λ1·S_f(data) + λ2·S_f(G(z))
        for k in range(n_d, n_d + n_c):
            logs["stein_critic"] = self.energy_update.critic_step([(lam1, reals[k]), (lam2, fakes[k])])
        # 3. n_e energy steps on λ1·S(data, p_E) + λ2·S(G(z), p_E)
        for k in range(n_d + n_c, n_d + n_c + n_e):
            s_data, s_gen = self.energy_update([reals[k], fakes[k]], [lam1, lam2])
        # 4. the generator step on L_G(G(z)) + λ2·S(G(z), p_E)
        logs = {"critic": loss_d, **self.generator_update(z, data), **logs}
        if not joint:  # the released order: E on λ1·S(data); G on λ2·S(G(z)); E on λ2·S(G(z)), fresh samples each
            s_data = self.energy_update([data.batch()], [lam1])[0]
            if lam2 > 0:
                self.generator_bridge_update(self.generator.noise(b), data)
            s_gen = self.energy_bridge_update([self.sample(b)], [lam2])[0]
        return {**logs, "stein_data": s_data, "stein_gen": s_gen, "bridge_weight": torch.tensor(lam2)}
