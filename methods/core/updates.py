"""Update blocks: the steps that the methods are written from (paper Algorithm 1; Goodfellow et al. 2014, Algorithm
1; Gulrajani et al. 2017, Algorithm 1).

* `CriticUpdate`: one step of D1's critic (WGAN-GP critic or GAN discriminator) on a data and a generated batch;
* `EnergyUpdate`: one step of the energy E on weighted Stein discrepancies Σ_k w_k·S(x_k, p_E) (KSD, or the neural
  Stein discrepancy, whose critic f takes its ascent steps through `critic_step`);
* `GeneratorUpdate`: one step of G on a list of terms at its samples x = G(z) (methods/core/terms.py: the
  adversarial loss, the Stein bridge, the DAE regularisers, E_G[E]);
* `AdversarialTraining`: a GAN's whole iteration from the critic and generator updates, n_d critic steps then one
  generator step; `draw`: the batches of a critic loop, drawn in one go.

Each block chooses its own arithmetic: for the suite's MLP critics and energies (fused_gradients: true) the
closed-form gradients of methods/core/steps.py, otherwise autograd on the loss as written (convolutional networks,
fused_gradients: false, the neural Stein discrepancy). Both give the same numbers to round-off; tests/test_steps.py
and tests/test_fast_paths.py compare them. A method file never chooses between them.
"""
from __future__ import annotations

import torch

from methods.core import steps
from methods.core.losses import GAN_LOSSES, PENALTIES, critic_loss
from methods.core.params import Param
from methods.core.stack import draw as stream_draw
from methods.core.stein import DISCREPANCIES, SteinCritic, critic_ascent_loss, discrepancies, model_score
from methods.core.terms import Adversarial

# D1's critic: the WGAN-GP critic (Gulrajani et al. 2017) or the GAN discriminator (Goodfellow et al. 2014)
WGAN_GP_PARAMETERS = {
    "critic_steps": Param(5, "n_d: critic steps per generator step (paper Algorithm 1)", low=1),
    "gp_weight": Param(10.0, "λ of the gradient penalty", low=0),
    "penalty": Param("two_sided", "two_sided (Gulrajani et al.) | hinge (released code)", choices=PENALTIES),
}
GAN_PARAMETERS = {
    "critic_steps": Param(1, "discriminator steps per generator step (k = 1, Goodfellow et al. 2014)", low=1),
}
# the energy trained by a Stein discrepancy (dem, joint_w, joint_js): n_e steps per iteration, each on a fresh batch
ENERGY_PARAMETERS = {
    "energy_steps": Param(1, "n_e: energy steps per iteration, each on fresh batches (paper Algorithm 1: 1)", low=1),
}


def critic_parameters(loss: str) -> dict[str, Param]:
    """The declared parameters of D1's critic for `loss` ("wgan" or "gan")."""
    return {"wgan": WGAN_GP_PARAMETERS, "gan": GAN_PARAMETERS}[loss]


def descend(opt, loss: torch.Tensor) -> None:
    """One step of `opt` on `loss`. The backward pass computes gradients for `opt`'s parameters only: e.g. a
    generator step's loss also depends on the critic's (and the energy's) weights, whose gradients would be
    discarded anyway, and autograd then skips their weight-gradient products."""
    opt.zero_grad(set_to_none=True)
    (loss if loss.dim() == 0 else loss.sum()).backward(inputs=opt.params)  # a stack's: the sum of its runs' losses
    opt.step()


def draw(data, generator, batch_size: int, critic_steps: int, extra: int = 0):
    """(ε, z, reals, fakes) for an iteration with `critic_steps` critic steps: the interpolation weights ε of each
    critic step (drawn whatever the loss, so a GAN and a WGAN see the same batches for a seed), the generator
    step's noise z, and `critic_steps + extra` data batches and generated batches (detached).

    Neither G nor the data change before the generator step, so every batch is drawn at once: one index draw and
    one generator pass instead of n. Draws are sequential (n batches in one call equal n calls) and z comes before
    the batches, so a method with `extra` batches (joint_w's Stein-critic and energy steps) sees exactly wgan_gp's
    critic batches and generator noise for the same seed.

    For a stack of K runs (the generator's `stack`) every tensor has a leading run dimension: eps[k] (K, B, 1),
    reals[k] and fakes[k] (K, B, d), each run's numbers from its own streams."""
    n = critic_steps + extra
    stack = getattr(generator, "stack", None)
    eps = stream_draw(stack, torch.rand, critic_steps, batch_size, 1, dim=1)
    z = generator.noise(batch_size)
    dim = 0 if stack is None else 1  # the batch dimension
    reals = data.batch(n * batch_size).split(batch_size, dim)
    with torch.no_grad():
        fakes = generator(n * batch_size).split(batch_size, dim)
    return eps, z, reals, fakes


class CriticUpdate:
    """One step of D1's critic D on a data batch x and a generated batch G(z) (methods/core/losses.py):

        wgan:  E[D(G(z))] − E[D(x)] + gp_weight·E[φ(‖∇D(x̂)‖)],   x̂ = εx + (1−ε)G(z),
               φ(n) = (n − 1)² (`penalty: two_sided`) or relu(n − 1) (`hinge`, the released code's);
        gan:   −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))],   D a logit.

    Fast path (wgan, MLP critic): the closed-form gradient of methods/core/steps.py."""

    hyperparameters = WGAN_GP_PARAMETERS

    def __init__(self, critic: torch.nn.Module, opt, loss: str, hp: dict):
        if loss not in GAN_LOSSES:
            raise ValueError(f"unknown adversarial loss {loss!r}; valid: {', '.join(GAN_LOSSES)}")
        self.critic, self.opt, self.loss = critic, opt, loss
        self.penalty = {"gp_weight": hp["gp_weight"], "penalty": hp["penalty"]} if loss == "wgan" else {}
        self.fast = loss == "wgan" and steps.fusable(critic)

    def __call__(self, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """One step; returns the loss (detached)."""
        if self.fast:
            return steps.wgan_gp_critic_step(self.critic, self.opt, real, fake, eps, self.penalty["gp_weight"],
                                             self.penalty["penalty"])
        loss = critic_loss(self.loss, self.critic, real, fake, self.penalty, eps)
        descend(self.opt, loss)
        return loss.detach()


def stein_critic(hp: dict, data_shape: tuple[int, ...]) -> SteinCritic | None:
    """The Stein critic f of `discrepancy: neural` (methods/core/stein.py), None for the KSD."""
    if hp["discrepancy"] not in DISCREPANCIES:
        raise ValueError(f"unknown discrepancy {hp['discrepancy']!r}; valid: {', '.join(DISCREPANCIES)}")
    return SteinCritic(hp, data_shape) if hp["discrepancy"] == "neural" else None


class EnergyUpdate:
    """One step of the energy E on Σ_k w_k·S(x_k, p_E) (paper Algorithm 1, the energy step; `dem` with one term),
    S the KSD with the `stein:` options, or the neural Stein discrepancy seen by `critic` f, whose ascent steps
    on Σ_k w_k·(S_f(x_k) − l2·E‖f‖²) are `critic_step` (Grathwohl et al. 2020).

    Fast path (KSD, MLP energy): methods/core/steps.py `ksd_energy_step`."""

    def __init__(self, energy: torch.nn.Module, opt, hp: dict, critic: SteinCritic | None = None, critic_opt=None):
        self.energy, self.opt, self.hp, self.critic, self.critic_opt = energy, opt, hp, critic, critic_opt
        self.fast = critic is None and steps.fusable(energy)
        self.stacked = getattr(getattr(energy, "net", None), "stack", None) is not None
        if self.stacked and not self.fast:
            raise ValueError("a stack of runs trains its energy on the closed-form KSD path only (an MLP energy, "
                             "`discrepancy: ksd`, `fused_gradients: true`)")

    def __call__(self, xs: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
        """One step on Σ_k weights[k]·S(xs[k], p_E) (equal batch sizes; a term of weight 0 costs no backward pass,
        and no step is taken when every weight is 0); returns each S(xs[k], p_E), detached, shape (len(xs),), or
        (len(xs), K) for a stack of K runs (xs[k] (K, B, d))."""
        # one pass of E over every batch, one call for every S
        x = xs[0] if len(xs) == 1 else torch.cat(xs, 1 if self.stacked else 0)
        if self.fast and any(w > 0 for w in weights):
            return steps.ksd_energy_step(self.energy, self.opt, x, weights, self.hp)
        values = discrepancies(x, model_score(self.energy, x, self.hp["score"]), len(xs), self.hp, self.critic)
        if any(w > 0 for w in weights):
            loss = weights[0] * values[0]
            for w, value in zip(weights[1:], values[1:]):
                if w > 0:
                    loss = loss + w * value
            descend(self.opt, loss)
        return values.detach()

    def critic_step(self, terms: list[tuple[float, torch.Tensor]]) -> torch.Tensor:
        """One ascent step of the Stein critic f on Σ w·(S_f(x) − l2·E‖f(x)‖²) over [(w, x), …], E's scores held
        fixed; returns the loss it descends (detached)."""
        loss = critic_ascent_loss(self.critic, self.energy, terms, self.hp["score"])
        descend(self.critic_opt, loss)
        return loss.detach()


class GeneratorUpdate:
    """One step of the generator G on the sum of `terms` at its samples x = G(z) (methods/core/terms.py).

    A term with a closed-form gradient at x (`closed_form`: the adversarial loss of an MLP critic, the KSD bridge of
    an MLP energy) gives ∂term/∂x; the others give their loss, differentiable in x. One backward pass through G
    carries both: backward([x, Σ losses], [Σ gradients, 1])."""

    def __init__(self, generator: torch.nn.Module, opt, terms: list):
        self.generator, self.opt, self.terms = generator, opt, list(terms)

    def __call__(self, z: torch.Tensor, data) -> dict:
        """One step at x = G(z) (`data`: the mini-batch source, for terms that fit on data); returns the terms'
        named values to log."""
        fake = self.generator(z.shape[-2], z)
        # Terms are evaluated last to first and summed first to last: the order of the suite's earlier
        # implementation (its regularisers ran before the adversarial loss), which fixes both the order of random
        # draws (the DAE's noise) and the order in which autograd accumulates gradients at G(z), so results stay
        # bitwise the same.
        parts = [term.input_grad(fake, data) if term.closed_form else term.loss(fake, data)
                 for term in reversed(self.terms)][::-1]
        logs, loss, grad = {}, None, None
        for term, (value, term_logs) in zip(self.terms, parts):
            if value is not None and term.closed_form:
                grad = value if grad is None else grad + value
            elif value is not None:
                loss = value if loss is None else loss + value
            logs |= term_logs
        if grad is None:
            descend(self.opt, loss)
            return logs
        roots, cotangents = [fake], [grad]
        if loss is not None:
            roots.append(loss)
            cotangents.append(torch.ones_like(loss))
        self.opt.zero_grad()
        torch.autograd.backward(roots, cotangents, inputs=self.opt.params)
        self.opt.step()
        return logs


class AdversarialTraining:
    """One GAN iteration (Goodfellow et al. 2014, Algorithm 1; Gulrajani et al. 2017, Algorithm 1): n_d =
    `critic_steps` critic steps (`CriticUpdate`), each on a fresh data batch and fresh generated samples, then one
    generator step on the adversarial loss plus `terms` (regularisers). Networks: the method's `generator` and
    `critic`; optimisers: Adam at the implicit side's `lr_implicit`, `beta1_implicit`, kept as "generator" and
    "critic"."""

    def __init__(self, method, loss: str, terms: list = ()):
        hp = method.hp
        self.batch_size, self.critic_steps, self.generator = hp["batch_size"], hp["critic_steps"], method.generator
        implicit = (hp["lr_implicit"], hp["beta1_implicit"], "implicit")
        opt_g = method.adam("generator", method.generator, *implicit)
        self.critic_update = CriticUpdate(method.critic, method.adam("critic", method.critic, *implicit), loss, hp)
        self.generator_update = GeneratorUpdate(method.generator, opt_g, [Adversarial(method.critic, loss), *terms])

    def __call__(self, data) -> dict:
        eps, z, reals, fakes = draw(data, self.generator, self.batch_size, self.critic_steps)
        for k in range(self.critic_steps):
            loss_d = self.critic_update(reals[k], fakes[k], eps[k])
        return {"critic": loss_d, **self.generator_update(z, data)}
