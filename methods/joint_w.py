"""Stein Bridging with D1 = WGAN-GP, "Joint-W" (Wu, Gao & Zha, NeurIPS 2021, §3 and Algorithm 1). SPEC §2.4.

An energy model p_E ∝ exp(−E) and a generator x = G(z) are trained jointly:

    min_{E,G}  D1(P_data, P_G) + λ1·S(P_data, p_E) + λ2·S(P_G, p_E)

Per iteration t:
  1. n_d = `critic_steps` critic steps on D1 (WGAN-GP critic loss; methods/wgan_gp.py), fresh data each;
  2. with `discrepancy: neural` only: n_c = `critic_steps_stein` ascent steps of the Stein critic f on
     λ1·S_f(data) + λ2·S_f(G(z)), each minus its L2 penalty (methods/core/stein.py `SteinCritic`);
  3. one energy step descending λ1·S(x, p_E) + λ2·S(G(z), p_E), with G(z) held fixed;
  4. one generator step descending L_G(G(z)) + λ2·S(G(z), p_E): the bridge reaches G through the positions G(z),
     because S is differentiable in them (the score s = −∇E at G(z) is differentiated once more).
WganGp's loop runs the steps in this order: its `before_generator_step` hook runs steps 2-3 on batches drawn with
the critic's (G does not change before step 4), and its `generator_extra` hook adds the bridge term of step 4.

S is the kernel Stein discrepancy on 2-D data (`discrepancy: ksd`; the `stein:` section's kernel, bandwidth,
U/V statistic and `score`), the neural one on images. λ1 = `data_weight`; λ2 follows

    λ2(t) = 0 for t < t0,   λ2(t) = bridge_weight · min(1, (t − t0) / (bridge_warmup · iterations)) after,

t0 = `bridge_start` (the paper's warm-up study), t = iterations already done, kept in the `iteration` buffer so a
resumed run continues the schedule. Optimisers: `optimizer_implicit` for G and D (Adam, β1 = 0.5),
`optimizer_explicit` for E and f (Adam, β1 = 0.9).

`stein_updates: separate` reproduces the released 2-D code's update order instead of steps 3-4: the GAN generator
step; an energy step on λ1·S(data); a generator step on λ2·S(G(z)); an energy step on λ2·S(G(z)); each Stein step
with its own optimiser of kind `optimizer_explicit` (the released "optimizer_KSD") at its side's learning rate.
"""
from __future__ import annotations

import torch

from methods import register
from methods.core import steps
from methods.core.nets import energy
from methods.core.stein import SteinCritic, critic_ascent_loss, discrepancies, model_score, stein_discrepancy
from methods.wgan_gp import WganGp

DISCREPANCIES = ("ksd", "neural")
STEIN_UPDATES = ("joint", "separate")


@register
class JointW(WganGp):
    name = "joint_w"
    kind = "joint"
    has_energy = True
    adversarial = "wgan"  # D1; joint_js sets "gan"

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__(hp, data_shape)
        hp = self.hp
        for key, valid in (("discrepancy", DISCREPANCIES), ("stein_updates", STEIN_UPDATES)):
            if hp[key] not in valid:
                raise ValueError(f"{self.name}: unknown {key} {hp[key]!r}; valid: {', '.join(valid)}")
        self.energy_net = energy(hp, data_shape)
        self.stein_critic = SteinCritic(hp, data_shape) if hp["discrepancy"] == "neural" else None
        explicit = (hp["optimizer_explicit"], hp["lr_explicit"], hp["beta1_explicit"])
        self.opt_e = self.optimizer("energy", self.energy_net, *explicit)
        if self.stein_critic is not None:
            self.opt_f = self.optimizer("stein_critic", self.stein_critic, *explicit)
        if hp["stein_updates"] == "separate":
            self.opt_g_stein = self.optimizer("generator_stein", self.generator, explicit[0], hp["lr_implicit"],
                                              hp["beta1_explicit"])
            self.opt_e_bridge = self.optimizer("energy_bridge", self.energy_net, *explicit)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.lam2 = 0.0  # λ2 of the current iteration, set by train_step from `iteration`

    def bridge_schedule(self, t: int) -> float:
        """λ2 after t finished iterations (see the module docstring)."""
        hp = self.hp
        if t < hp["bridge_start"]:
            return 0.0
        ramp = hp["bridge_warmup"] * hp["iterations"]
        return hp["bridge_weight"] * (min(1.0, (t - hp["bridge_start"]) / ramp) if ramp > 0 else 1.0)

    @property
    def extra_batches(self) -> int:
        """Batches drawn with the critic's (WganGp.train_step) for steps 2-3: n_c Stein-critic steps (neural S)
        and the energy step; the released order runs its Stein steps after the generator step, on fresh draws."""
        neural = self.hp["critic_steps_stein"] if self.stein_critic is not None else 0
        return neural + (1 if self.hp["stein_updates"] == "joint" else 0)

    def stein(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """S(x, p_E): differentiable in E (unless `frozen`) and, for x = G(z) with its graph, in G."""
        return stein_discrepancy(self.energy_net, x, self.hp, self.stein_critic, frozen)

    def fake(self) -> torch.Tensor:
        with torch.no_grad():
            return self.generator(self.hp["batch_size"])

    def stein_critic_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One ascent step of f on λ1·S_f(data) + λ2·S_f(G(z)) (penalised), with E's scores held fixed."""
        loss = critic_ascent_loss(self.stein_critic, self.energy_net,
                                  [(self.hp["data_weight"], real), (self.lam2, fake)], self.hp["score"])
        self.step(self.opt_f, loss)
        return loss.detach()

    def energy_step(self, real: torch.Tensor, fake: torch.Tensor) -> dict:
        """One step of E on λ1·S(real, p_E) + λ2·S(fake, p_E); with λ2 = 0 this is exactly dem's step. One pass
        of E over [real; fake] gives both halves' scores, one call both discrepancies."""
        x = torch.cat([real, fake])
        if self.stein_critic is None and steps.fusable(self.energy_net):  # closed-form gradients, same arithmetic
            s_data, s_gen = steps.ksd_energy_step(self.energy_net, self.opt_e, x,
                                                  [self.hp["data_weight"], self.lam2], self.hp)
            return {"stein_data": s_data, "stein_gen": s_gen}
        s_data, s_gen = discrepancies(x, model_score(self.energy_net, x, self.hp["score"]), 2, self.hp,
                                      self.stein_critic)
        loss = self.hp["data_weight"] * s_data + (self.lam2 * s_gen if self.lam2 > 0 else 0.0)
        self.step(self.opt_e, loss)
        return {"stein_data": s_data.detach(), "stein_gen": s_gen.detach()}

    def before_generator_step(self, reals: tuple, fakes: tuple) -> dict:
        """Steps 2-3 of the iteration on the extra batches (see `extra_batches`)."""
        logs = {}
        n_c = len(reals) - (1 if self.hp["stein_updates"] == "joint" else 0)
        for real, fake in zip(reals[:n_c], fakes[:n_c]):
            logs["stein_critic"] = self.stein_critic_step(real, fake)
        if self.hp["stein_updates"] == "joint":
            logs |= self.energy_step(reals[-1], fakes[-1])
        return logs

    def closed_form_bridge(self) -> bool:
        """The bridge's generator gradient in closed form (KSD, MLP energy, fused critic), else autograd."""
        return self.stein_critic is None and steps.fusable(self.energy_net) and steps.fusable(self.critic)

    def generator_extra(self, fake: torch.Tensor, data) -> tuple[torch.Tensor | float, dict]:
        """The Stein bridge's term in the generator loss, λ2·S(G(z), p_E) (none while λ2 = 0); E is fixed here."""
        if self.lam2 == 0 or self.hp["stein_updates"] == "separate" or self.closed_form_bridge():
            return 0.0, {}
        return self.lam2 * self.stein(fake, frozen=True), {}

    def generator_input_grad(self, fake: torch.Tensor) -> tuple[torch.Tensor | None, dict]:
        """The bridge's gradient λ2·∂S(G(z), p_E)/∂G(z) in closed form (methods/core/steps.py), when available."""
        if self.lam2 == 0 or self.hp["stein_updates"] == "separate" or not self.closed_form_bridge():
            return None, {}
        _, grad = steps.ksd_input_grad(self.energy_net, fake, self.lam2, self.hp)
        return grad, {}

    def separate_stein_steps(self, data) -> dict:
        """`stein_updates: separate` (released code): after the GAN steps, E on λ1·S(data), G on λ2·S(G(z)),
        E on λ2·S(G(z)), each step with its own optimiser slots and fresh samples."""
        s_data = self.stein(data.batch())
        self.step(self.opt_e, self.hp["data_weight"] * s_data)
        if self.lam2 > 0:
            self.step(self.opt_g_stein, self.lam2 * self.stein(self.generator(self.hp["batch_size"]), frozen=True))
        s_gen = self.stein(self.fake())
        if self.lam2 > 0:
            self.step(self.opt_e_bridge, self.lam2 * s_gen)
        return {"stein_data": s_data.detach(), "stein_gen": s_gen.detach()}

    def train_step(self, data):
        self.lam2 = self.bridge_schedule(int(self.iteration))
        self.iteration += 1
        logs = super().train_step(data)  # critic steps, before_generator_step (2-3), generator step (4)
        if self.hp["stein_updates"] == "separate":
            logs |= self.separate_stein_steps(data)
        return {**logs, "bridge_weight": torch.tensor(self.lam2)}

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy_net(x)
