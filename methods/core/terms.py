"""Terms of a generator's loss at its samples x = G(z), the parts a `GeneratorUpdate` (methods/core/updates.py) sums.

A regularised GAN is an adversarial loss plus a list of terms, never a subclass of the GAN:

    Adversarial      D1's generator loss from a fixed critic: −E[D(x)] (wgan) or −E[log σ(D(x))] (gan)
    SteinBridge      λ2·S(x, p_E) from a fixed energy (paper Eq. 3, the bridge; λ2 set each iteration)
    Likelihood       −w·E[log p_data(x)]  (Warde-Farley & Bengio 2017; ∇ log p_data by a DAE fitted on data)
    Entropy          −w·H(q_G)            (Tao et al. 2019; ∇ log q_G by a DAE fitted on generated samples)
    AnnealedEntropy  −β_t·H(q_G), β_t = w·max(0, 1 − t/(anneal_fraction·iterations))  (Tao et al. 2019)
    MeanEnergy       E[E(x)]              (egan, dgm: with −H(q_G), KL(q_G ‖ p_E) up to log Z)

Each gives `loss(x, data)`: (its value, differentiable in x, or None when it adds nothing; named values to log),
and, where `closed_form`, `input_grad(x, data)`: (∂term/∂x computed directly, or None; named values to log) — the
adversarial loss of an MLP critic and the KSD bridge of an MLP energy (methods/core/steps.py). The DAE terms use
the one score estimator of methods/core/entropy.py: descending surrogate(s, x) = E[s(x)ᵀx], s fixed, moves x along
−s, so +surrogate(∇log q_G) ascends the entropy and −surrogate(∇log p_data) ascends the likelihood.
"""
from __future__ import annotations

from typing import Callable

import torch

from methods.core import steps
from methods.core.entropy import DAEScore, surrogate
from methods.core.losses import generator_loss
from methods.core.params import Param
from methods.core.stein import SteinCritic, stein_discrepancy


class Term:
    """A term of the generator's loss (module docstring)."""

    closed_form = False
    hyperparameters: dict[str, Param] = {}

    def loss(self, fake: torch.Tensor, data) -> tuple[torch.Tensor | None, dict]:
        raise NotImplementedError

    def input_grad(self, fake: torch.Tensor, data) -> tuple[torch.Tensor | None, dict]:
        raise NotImplementedError(f"{type(self).__name__} has no closed-form gradient")


class Adversarial(Term):
    """D1's generator loss with the critic fixed (methods/core/losses.py), logged as "generator"."""

    def __init__(self, critic: torch.nn.Module, loss: str):
        self.critic, self.kind = critic, loss
        self.closed_form = steps.fusable(critic)

    def loss(self, fake, data):
        loss = generator_loss(self.kind, self.critic, fake)
        return loss, {"generator": loss.detach()}

    def input_grad(self, fake, data):
        value, grad = steps.critic_input_grad(self.kind, self.critic, fake)
        return grad, {"generator": value}


class SteinBridge(Term):
    """λ2·S(x, p_E) with E (and the Stein critic) fixed: the bridge reaches G through the positions x, since S is
    differentiable in them (the score s = −∇E at x is differentiated once more). `weight` = λ2, set by the method
    each iteration; 0 adds nothing."""

    def __init__(self, energy: torch.nn.Module, hp: dict, critic: SteinCritic | None = None):
        self.energy, self.hp, self.critic, self.weight = energy, hp, critic, 0.0
        self.closed_form = critic is None and steps.fusable(energy)

    def loss(self, fake, data):
        if self.weight == 0:
            return None, {}
        return self.weight * stein_discrepancy(self.energy, fake, self.hp, self.critic, frozen=True), {}

    def input_grad(self, fake, data):
        if self.weight == 0:
            return None, {}
        return steps.ksd_input_grad(self.energy, fake, self.weight, self.hp)[1], {}


class Likelihood(Term):
    """−w·E_z[log p_data(G(z))], its gradient E_z[(∂G/∂θ)ᵀ ∇ log p_data(G(z))] with ∇ log p_data from the DAE,
    fitted on a fresh data batch per step (logged as "dae")."""

    hyperparameters = {"likelihood_weight": Param(0.1, "weight of −E log p_data(G(z)) (DAE: `entropy:` section)", low=0)}

    def __init__(self, dae: DAEScore, weight: float):
        self.dae, self.weight = dae, weight

    def loss(self, fake, data):
        loss_dae = self.dae.fit(data.batch())
        log_lik = surrogate(self.dae.score(fake), fake, self.dae.stack is not None)  # gradient: E[(∂G/∂θ)ᵀ ∇ log p_data(G(z))]
        return -self.weight * log_lik, {"dae": loss_dae}


class Entropy(Term):
    """−w·H(q_G), ∇_θ H(q_G) = −E_z[(∂G/∂θ)ᵀ ∇ log q_G(G(z))] with ∇ log q_G from the DAE, fitted on the generated
    batch itself (detached). Logs "dae" and, with `log_weight`, the weight."""

    hyperparameters = {"entropy_weight": Param(0.1, "weight of −H(q_G) in the generator loss (DAE on generated samples)",
                                          low=0)}

    def __init__(self, dae: DAEScore, weight: float, log_weight: bool = True):
        self.dae, self.weight, self.log_weight = dae, weight, log_weight

    def current_weight(self) -> float:
        return self.weight

    def loss(self, fake, data):
        loss_dae = self.dae.fit(fake)  # s ≈ ∇ log q_G
        neg_entropy = surrogate(self.dae.score(fake), fake, self.dae.stack is not None)  # gradient: −∇_θ H(q_G)
        weight = self.current_weight()
        logs = {"dae": loss_dae, "entropy_weight": torch.tensor(weight)} if self.log_weight else {"dae": loss_dae}
        return weight * neg_entropy, logs


class AnnealedEntropy(Entropy):
    """The entropy term with its weight annealed to 0 (variational annealing, Tao et al. 2019):
    β_t = w·max(0, 1 − t/(anneal_fraction·iterations)), t = `clock()`, the iterations already done."""

    hyperparameters = {
        "entropy_weight": Param(0.1, "initial value of the annealed weight of −H(q_G)", low=0),
        "anneal_fraction": Param(0.5, "the weight decays linearly to 0 over this fraction of `iterations`", low=0),
    }

    def __init__(self, dae: DAEScore, weight: float, anneal_fraction: float, iterations: int,
                 clock: Callable[[], int]):
        super().__init__(dae, weight)
        self.horizon, self.clock = anneal_fraction * iterations, clock

    def current_weight(self) -> float:
        return self.weight * max(0.0, 1.0 - self.clock() / self.horizon) if self.horizon > 0 else 0.0


class MeanEnergy(Term):
    """E_z[E(G(z))] with E fixed (logged as "generator_energy")."""

    def __init__(self, energy: torch.nn.Module):
        self.energy = energy

    def loss(self, fake, data):
        value = self.energy(fake).mean(-1)  # per run in a stack
        return value, {"generator_energy": value.detach()}
