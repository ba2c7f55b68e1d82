"""Stein discrepancies (paper §2-3). Only the score s(x) = ∇_x log p(x) = −∇_x E(x) enters, so the normaliser of
p ∝ exp(−E) never appears.

Kernel Stein discrepancy: methods/core/ksd.py (2-D data).

Neural Stein discrepancy (Grathwohl, Wang, Jacobsen, Duvenaud & Zemel 2020, "Learning the Stein discrepancy for
training and evaluating energy-based models without sampling", ICML; paper §3 of Stein Bridging):

    S(Q, p) = sup_f E_Q[ s(x)ᵀ f(x) + div f(x) ]        (the Stein operator A_p f = s fᵀ + ∇f, traced)

with a learned critic f (`SteinCritic`); the critic ascends it minus `stein_critic_l2`·E_Q‖f(x)‖², which keeps the
supremum finite: the optimum is then f* = (s − s_Q)/(2λ) and the penalised value E_Q‖s − s_Q‖²/(4λ).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import nn

from methods.core.ksd import ksd, ksd_groups
from methods.core.nets import mlp

SCORES = ("log_density", "density_gradient")
DISCREPANCIES = ("ksd", "neural")  # `discrepancy:` the KSD (2-D) or the neural Stein discrepancy (images)
CRITICS = ("vector", "scalar_max")


# --- scores ---------------------------------------------------------------------------------------------------------
def score_from_energy(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                      create_graph: bool = True) -> torch.Tensor:
    """s(x) = ∇_x log p(x) = −∇_x E(x); `create_graph` keeps it differentiable for training E."""
    return model_score(energy, x, "log_density", create_graph)


def model_score(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, kind: str = "log_density",
                create_graph: bool = True, frozen: bool = False) -> torch.Tensor:
    """The model's score at x (shape of x), from its energy E with p ∝ exp(−E):

    * `log_density` (paper): s(x) = ∇_x log p(x) = −∇_x E(x);
    * `density_gradient` (released 2-D code, which differentiated p itself): ∇_x p(x) = p(x)·∇_x log p(x) with the
      unnormalised p = exp(−E(x)). Not a score: the Stein identity fails for it, and its scale depends on the
      arbitrary offset of E; it is provided so the suite can tell which results depend on this choice.

    An energy with `energy_and_score` (the MLP energies of methods/core/nets.py) gives −∇E in closed form in its
    forward pass; any other energy is differentiated by autograd (`autograd_score`, also the reference in tests).
    Gradients reach E's parameters and whatever produced x (e.g. x = G(z)); `frozen` (a generator step) only the
    latter; `create_graph=False` returns a detached score (sampling, evaluation)."""
    if kind not in SCORES:
        raise ValueError(f"unknown score {kind!r}; valid: {', '.join(SCORES)}")
    if hasattr(energy, "energy_and_score"):
        with torch.set_grad_enabled(create_graph):
            e, s = energy.energy_and_score(x, frozen=frozen)
    else:
        e, s = autograd_score(energy, x, create_graph)
    if kind == "density_gradient":
        s = torch.exp(-e).reshape(*e.shape, *[1] * (x.dim() - e.dim())) * s  # (B, 1) alone, (K, B, 1) in a stack
    return s if create_graph else s.detach()


def autograd_score(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                   create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(E(x), −∇_x E(x)) by autograd. A tensor x that already requires grad (e.g. x = G(z)) is differentiated in
    place, so gradients also reach what produced x; `create_graph` keeps the score differentiable."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    with torch.enable_grad():  # usable inside evaluation code's torch.no_grad()
        e = energy(x)
        (grad,) = torch.autograd.grad(e.sum(), x, create_graph=create_graph)
    return (e if create_graph else e.detach()), -grad


# --- neural Stein discrepancy ---------------------------------------------------------------------------------------
class SteinEstimate(NamedTuple):
    """A batch estimate of the Stein discrepancy and the critic's mean square, E‖f(x)‖² (E[g(x)²] for a scalar
    critic), which the critic's L2 penalty needs; both differentiable."""
    value: torch.Tensor
    critic_sq: torch.Tensor


def _with_grad(x: torch.Tensor) -> torch.Tensor:
    # x = G(z) keeps its graph, so the Stein term also trains the generator; data gets a fresh leaf.
    return x if x.requires_grad else x.detach().requires_grad_(True)


def hutchinson_divergence(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, probes: int = 1,
                          create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) (shape of x) and Hutchinson's estimate of div f(x) = tr ∂f/∂x (shape (B,)):

        div f(x) ≈ (1/P) Σ_p ε_pᵀ (∂f/∂x) ε_p,   ε_p Rademacher (Hutchinson 1989),

    unbiased since E[εεᵀ] = I. All P probes run as one batch of P·B copies of x and ONE vector-Jacobian product
    (εᵀ∂f/∂x for every copy), so the cost is P forward/backward passes of the critic, never d of them."""
    x = _with_grad(x)
    b = x.shape[0]
    with torch.enable_grad():
        xr = x.unsqueeze(0).expand(probes, *x.shape).reshape(probes * b, *x.shape[1:])
        f = critic(xr)
        if f.shape != xr.shape:
            raise ValueError(f"a vector Stein critic must return the shape of its input {tuple(xr.shape)}; "
                             f"got {tuple(f.shape)}")
        eps = torch.randint(0, 2, f.shape, dtype=f.dtype, device=f.device) * 2 - 1
        (eps_jac,) = torch.autograd.grad((f * eps).sum(), xr, create_graph=create_graph)
    div = (eps_jac * eps).flatten(1).sum(1).view(probes, b).mean(0)
    return f.view(probes, *x.shape)[0], div


def stein_estimate(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, s: torch.Tensor,
                   kind: str = "vector", probes: int = 1, create_graph: bool = True) -> SteinEstimate:
    """The Stein discrepancy of the sample x (B, *shape) against the model with score s at x (same shape), as
    seen by `critic`:

    * `vector` (Grathwohl et al. 2020): f: ℝ^d → ℝ^d,  value = (1/B) Σ_i [ s(x_i)ᵀ f(x_i) + div f(x_i) ], the
      divergence by `hutchinson_divergence` with `probes` Rademacher probes;
    * `scalar_max` (released CIFAR code): g: ℝ^d → ℝ (the critic returns shape (B,)), per-dimension operator
      T_j = (1/B) Σ_i [ s_j(x_i) g(x_i) + ∂_j g(x_i) ] and value = max_j |T_j|. The released code took ∂_j g as
      tf.gradients of g tiled d times, which multiplies it by d; this is the operator as written, without that
      factor.

    Whatever produced x (with grad) and s (with its graph) receives gradients; pass detached x and s for critic
    steps."""
    x = _with_grad(x)
    if kind == "vector":
        f, div = hutchinson_divergence(critic, x, probes, create_graph)
        value = ((s * f).flatten(1).sum(1) + div).mean()
        return SteinEstimate(value, f.flatten(1).pow(2).sum(1).mean())
    if kind == "scalar_max":
        with torch.enable_grad():
            g = critic(x)
            if g.shape != x.shape[:1]:
                raise ValueError(f"a scalar Stein critic must return shape ({x.shape[0]},); got {tuple(g.shape)}")
            (grad_g,) = torch.autograd.grad(g.sum(), x, create_graph=create_graph)
        per_dim = (s.flatten(1) * g[:, None] + grad_g.flatten(1)).mean(0)
        return SteinEstimate(per_dim.abs().max(), g.pow(2).mean())
    raise ValueError(f"unknown stein_critic {kind!r}; valid: {', '.join(CRITICS)}")


def stein_operator_value(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, s: torch.Tensor,
                         kind: str = "vector", probes: int = 1) -> torch.Tensor:
    """The batch estimate of E[s(x)ᵀ f(x) + div f(x)] (`vector`) or max_j |E[s_j g + ∂_j g]| (`scalar_max`);
    see `stein_estimate`."""
    return stein_estimate(critic, x, s, kind, probes).value


class SteinCritic(nn.Module):
    """The neural Stein critic, one object shared by both Stein terms of Stein Bridging (paper Algorithm 1): in each
    of its `critic_steps_stein` steps it ascends λ1·S(data) + λ2·S(G(z)), each term minus its L2 penalty.

    Default network: an MLP on the flattened input (`hidden`, `layers`, `stein_critic_activation`) with d outputs
    (`vector`) or one output squashed by tanh (`scalar_max`, as released). Any `net` mapping a batch (B, *shape)
    to (B, *shape) (vector) or (B,)/(B, 1) (scalar) can replace it, e.g. a convolutional trunk for images."""

    def __init__(self, hp: dict, data_shape: tuple[int, ...], net: nn.Module | None = None):
        super().__init__()
        self.kind = hp["stein_critic"]
        if self.kind not in CRITICS:
            raise ValueError(f"unknown stein_critic {self.kind!r}; valid: {', '.join(CRITICS)}")
        self.probes = hp["hutchinson_probes"]
        self.l2_weight = hp["stein_critic_l2"]
        self.data_shape = tuple(data_shape)
        d = math.prod(self.data_shape)
        self.net = net if net is not None else nn.Sequential(
            nn.Flatten(1), mlp(d, hp["hidden"], d if self.kind == "vector" else 1, hp["layers"],
                               hp["stein_critic_activation"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out.reshape(x.shape) if self.kind == "vector" else torch.tanh(out.reshape(x.shape[0]))

    def estimate(self, x: torch.Tensor, s: torch.Tensor) -> SteinEstimate:
        return stein_estimate(self, x, s, self.kind, self.probes)

    def discrepancy(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """S(x, s) as this critic sees it: the term the energy (and, at x = G(z), the generator) descends."""
        return self.estimate(x, s).value

    def critic_loss(self, terms: list[tuple[float, SteinEstimate]]) -> torch.Tensor:
        """What the critic DEscends: −Σ_t w_t (S_t − l2_weight · E_t‖f‖²) for weighted estimates (w_t, S_t), e.g.
        [(λ1, estimate(data)), (λ2, estimate(G(z)))]; made from detached samples and scores."""
        return -sum(w * (e.value - self.l2_weight * e.critic_sq) for w, e in terms)


def critic_ascent_loss(critic: "SteinCritic", energy, terms: list[tuple[float, torch.Tensor]], score: str,
                       ) -> torch.Tensor:
    """What the Stein critic descends in one ascent step: −Σ w·(S_f(x) − l2·E‖f‖²) over weighted samples
    [(w, x), …] (e.g. λ1 with a data batch, λ2 with G(z)), the model's scores held fixed (paper Algorithm 1, the
    Stein-critic step)."""
    return critic.critic_loss([(w, critic.estimate(x, model_score(energy, x, score, False).detach()))
                               for w, x in terms if w > 0])


def discrepancy_from_score(x: torch.Tensor, s: torch.Tensor, hp: dict,
                           critic: SteinCritic | None = None) -> torch.Tensor:
    """S of the sample x against the model whose score at x is s: KSD with the options of `hp` (`kernel`,
    `bandwidth`, `statistic`, `imq_*`) when no critic is given (2-D), else the neural Stein discrepancy seen by
    `critic` (images)."""
    if critic is None:
        return ksd(x, s, hp["kernel"], hp["bandwidth"], hp["statistic"], hp["imq_c"], hp["imq_beta"])
    return critic.discrepancy(x, s)


def discrepancies(x: torch.Tensor, s: torch.Tensor, groups: int, hp: dict,
                  critic: SteinCritic | None = None) -> torch.Tensor:
    """`discrepancy_from_score` of each of `groups` equal consecutive blocks of the batch (e.g. [data; G(z)]),
    shape (groups,); the KSD of all blocks is one call."""
    if critic is None:
        flat_x, flat_s = x.flatten(1), s.flatten(1)
        return ksd_groups(flat_x.view(groups, -1, flat_x.shape[1]), flat_s.view(groups, -1, flat_s.shape[1]),
                          hp["kernel"], hp["bandwidth"], hp["statistic"], hp["imq_c"], hp["imq_beta"])
    return torch.stack([critic.discrepancy(xg, sg) for xg, sg in zip(x.chunk(groups), s.chunk(groups))])


def stein_discrepancy(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, hp: dict,
                      critic: SteinCritic | None = None, frozen: bool = False) -> torch.Tensor:
    """S(x, p_E) with the options of `hp`: the model score of kind `score` (`model_score`), then
    `discrepancy_from_score`. Differentiable in whatever produced x and, unless `frozen`, in E."""
    return discrepancy_from_score(x, model_score(energy, x, hp["score"], frozen=frozen), hp, critic)
