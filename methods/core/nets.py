"""Networks (the paper's and the released code's sizes). 2-D: generator z(4) → 128 → 128 → 2; critic
2 → 128 → 128 → 1; energy network 2 → 128 → 128 → K experts with an energy head. Widths, depths, activations and the noise scale come from config.

Input gradients. The gradient penalty needs ∇_x D(x̂) and every Stein loss needs the score −∇_x E(x), each
differentiated once more by the optimiser's backward pass. `MLP.value_and_grad` returns an MLP's head value and
its input gradient together. By default (`fused_gradients: true`) it runs methods/core/fused.py: the gradient by
the chain rule written out, and a hand-written backward pass for it, so training never replays a recorded graph of
small operations twice (double backward). `fused_gradients: false` takes the reference path: the same chain rule
as recorded tensor operations, differentiated by autograd; tests/test_fused.py checks that both agree.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from methods.core import fused, image_nets
from methods.core.stack import Stack, draw

LEAKY_SLOPE = 0.2  # slope of leaky_relu, as in the released 2-D code


def _leaky_slope(z, a):
    return (z > 0).to(z.dtype) * (1 - LEAKY_SLOPE) + LEAKY_SLOPE  # exact in z's dtype


def _silu_slope(z, a):
    sig = torch.sigmoid(z)
    return sig * (1 + z * (1 - sig))


def _silu_curvature(z, a, slope):
    sig = torch.sigmoid(z)
    return sig * (1 - sig) * (2 + z * (1 - 2 * sig))


def _tanh_slope(z, a):
    return torch.addcmul(a.new_ones(()), a, a, value=-1)  # 1 − a² in one pass (2.4× faster than 1 − a * a here)


D = fused.Derivatives
# φ(z), φ'(z, a), φ''(z, a, φ') with a = φ(z); φ'' = None where it is 0 (piecewise linear)
ACTIVATIONS: dict[str, fused.Derivatives] = {
    # torch.tanh itself: measured here (one thread, 300 × 128 and 9 × 300 × 128) 3–10× faster than 2σ(2z) − 1,
    # which an earlier version used, at every CPU capability (AVX512, AVX2, default)
    "tanh": D(torch.tanh, _tanh_slope, lambda z, a, p: -2 * a * p),
    "relu": D(F.relu, lambda z, a: (z > 0).to(z.dtype), lambda z, a, p: None),
    "leaky_relu": D(lambda z: F.leaky_relu(z, LEAKY_SLOPE), _leaky_slope, lambda z, a, p: None),
    "softplus": D(F.softplus, lambda z, a: torch.sigmoid(z), lambda z, a, p: p * (1 - p)),
    "silu": D(F.silu, _silu_slope, _silu_curvature),
}

# Heads v = Σ_k f(h_k) of the K outputs h: f, f', f'' (None where f'' = 0).
ENERGY_HEADS: dict[str, fused.Derivatives] = {
    # paper: E(x) = Σ_k softplus(−h_k(x)), i.e. p ∝ Π_k sigmoid(h_k): a product of K experts (default)
    "softplus_experts": D(lambda h: F.softplus(-h), lambda h: -torch.sigmoid(-h),
                          lambda h: torch.sigmoid(h) * torch.sigmoid(-h)),
    # released 2-D code: E(x) = Σ_k sigmoid(h_k(x)); bounded, so the density varies by at most a factor e^K
    "sigmoid_experts": D(torch.sigmoid, lambda h: torch.sigmoid(h) * torch.sigmoid(-h),
                         lambda h: torch.sigmoid(h) * torch.sigmoid(-h) * (1 - 2 * torch.sigmoid(h))),
    # E = Σ_k h_k: unconstrained (Dai et al.'s released EGAN code, energy form "identity"; Du & Mordatch 2019); also
    # the critic's head (K = 1)
    "linear": D(lambda h: h, lambda h: torch.ones_like(h), lambda h: None),
    # E = −Σ_k softplus(h_k): experts lower the energy (Kim & Bengio 2016, §3; with a Gaussian base term)
    "minus_softplus_experts": D(lambda h: -F.softplus(h), lambda h: -torch.sigmoid(h),
                                lambda h: -torch.sigmoid(h) * torch.sigmoid(-h)),
}


class Activation(nn.Module):
    """φ as a module (`ACTIVATIONS`), so an MLP is an ordinary nn.Sequential with the derivatives at hand."""

    def __init__(self, name: str):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
        self.name = name
        self.derivatives = ACTIVATIONS[name]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        fast = self.derivatives.fast
        return fast(z) if fast is not None and not (torch.is_grad_enabled() and z.requires_grad) else \
            self.derivatives.fn(z)

    def extra_repr(self) -> str:
        return self.name


class StackedLinear(nn.Module):
    """K independent nn.Linear layers as one: weight (K, out, in), bias (K, out), y = x Wᵀ + b per run on x
    (K, B, in). Run k is initialised exactly as nn.Linear initialises itself, from run k's random stream, so a run
    starts from the same weights alone or in a stack."""

    def __init__(self, d_in: int, d_out: int, stack: Stack):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(len(stack), d_out, d_in))
        self.bias = nn.Parameter(torch.empty(len(stack), d_out))
        bound = 1 / math.sqrt(d_in)
        with torch.no_grad():
            for w, b, g in zip(self.weight, self.bias, stack.generators):  # nn.Linear.reset_parameters, per run
                nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
                nn.init.uniform_(b, -bound, bound, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias[:, None, :], x, self.weight.mT)

    def extra_repr(self) -> str:
        k, d_out, d_in = self.weight.shape
        return f"runs={k}, in_features={d_in}, out_features={d_out}"


def linear(d_in: int, d_out: int, stack: Stack | None) -> nn.Module:
    return nn.Linear(d_in, d_out) if stack is None else StackedLinear(d_in, d_out, stack)


class MLP(nn.Sequential):
    """`layers` hidden layers of width `hidden` with `activation`, then a linear output layer (an nn.Sequential of
    Linear, Activation, …, Linear), plus `value_and_grad`: a head's value and its input gradient together. With a
    `stack` of K runs every layer is a StackedLinear and inputs carry a leading run dimension (K, B, d_in)."""

    def __init__(self, d_in: int, hidden: int, d_out: int, layers: int, activation: str, fused: bool = True,
                 stack: Stack | None = None):
        mods, d = [], d_in
        for _ in range(layers):
            mods += [linear(d, hidden, stack), Activation(activation)]
            d = hidden
        mods.append(linear(d, d_out, stack))
        super().__init__(*mods)
        self.activation, self.fused, self.stack = activation, fused, stack

    def value_and_grad(self, x: torch.Tensor, head: str = "linear", rows: int | None = None,
                       frozen: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(v(x) = Σ_k f(h_k(x)) for every row, ∇_x v for the first `rows` rows (default all)), both
        differentiable; f is the head `head` of ENERGY_HEADS ("linear" with one output: the network itself).
        `frozen` (a hint for the fused path): differentiable in x only, not in the weights (the critic and the
        energy inside a generator step), which spares its backward pass their weight gradients; autograd (the
        reference path) prunes those by itself when the step's backward names its own parameters."""
        rows = x.shape[-2] if rows is None else rows
        if self.fused:
            params = [p.detach() if frozen else p for p in self.parameters()]
            return fused.value_and_grad(x, rows, ACTIVATIONS[self.activation], ENERGY_HEADS[head], params)
        return self.value_and_grad_reference(x, head, rows)

    def value_and_grad_reference(self, x: torch.Tensor, head: str = "linear", rows: int | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """`value_and_grad` as recorded tensor operations (the chain rule of methods/core/fused.py), for autograd."""
        rows = x.shape[-2] if rows is None else rows
        linears, acts = list(self)[0::2], list(self)[1::2]
        dphi = ACTIVATIONS[self.activation].slope
        f, df = ENERGY_HEADS[head].fn, ENERGY_HEADS[head].slope
        pre, post = [], []
        a = x
        for lin, act in zip(linears[:-1], acts):
            z = lin(a)
            a = act(z)
            pre.append(z)
            post.append(a)
        h = linears[-1](a)
        g = df(h[..., :rows, :]) @ linears[-1].weight
        for lin, z, a in zip(reversed(linears[:-1]), reversed(pre), reversed(post)):
            g = (g * dphi(z[..., :rows, :], a[..., :rows, :])) @ lin.weight
        return f(h).sum(-1), g


def mlp(d_in: int, hidden: int, d_out: int, layers: int, activation: str, fused: bool = True,
        stack: Stack | None = None) -> MLP:
    return MLP(d_in, hidden, d_out, layers, activation, fused, stack)


# The networks of a method for data of `shape`: the MLPs below for vectors (d,), the convolutional networks of
# methods/core/image_nets.py for images (C, H, W). Methods build their networks through these, passing their
# `stack` (methods/core/stack.py; None: one run). Only the 2-D MLPs stack.
def generator(hp: dict, shape: tuple[int, ...], stack: Stack | None = None) -> nn.Module:
    return Generator(hp, shape[0], stack) if len(shape) == 1 else image_nets.ImageGenerator(hp, _one(shape, stack))


def critic(hp: dict, shape: tuple[int, ...], stack: Stack | None = None) -> nn.Module:
    return Critic(hp, shape[0], stack) if len(shape) == 1 else image_nets.ImageCritic(hp, _one(shape, stack))


def energy(hp: dict, shape: tuple[int, ...], stack: Stack | None = None) -> nn.Module:
    if len(shape) == 1:
        return Energy(hp, shape[0], stack)
    return image_nets.ImageEnergy(hp, _one(shape, stack), energy_head(hp["energy_head"]).fn)


def _one(shape: tuple[int, ...], stack: Stack | None) -> tuple[int, ...]:
    if stack is not None:
        raise ValueError(f"stacked runs are for the 2-D track's MLPs; data of shape {tuple(shape)} trains one run "
                         f"at a time")
    return tuple(shape)


def energy_head(name: str) -> fused.Derivatives:
    """The energy head called `name` (ENERGY_HEADS); an unknown name raises a ValueError listing the valid ones."""
    if name not in ENERGY_HEADS:
        raise ValueError(f"unknown energy_head {name!r}; valid: {', '.join(ENERGY_HEADS)}")
    return ENERGY_HEADS[name]


class Generator(nn.Module):
    """x = G(z), z ~ N(0, noise_std² I) of dimension noise_dim."""

    def __init__(self, hp: dict, d_out: int, stack: Stack | None = None):
        super().__init__()
        self.noise_dim, self.noise_std, self.stack = hp["noise_dim"], hp["noise_std"], stack
        self.net = mlp(self.noise_dim, hp["hidden"], d_out, hp["layers"], hp["generator_activation"], stack=stack)

    def noise(self, n: int) -> torch.Tensor:
        """z: (n, noise_dim), or (K, n, noise_dim) for a stack, each run's from its own stream."""
        return self.noise_std * draw(self.stack, torch.randn, n, self.noise_dim)

    def forward(self, n: int, z: torch.Tensor | None = None) -> torch.Tensor:
        """n samples G(z) (per run for a stack), z drawn here or given (from `noise`)."""
        return self.net(self.noise(n) if z is None else z)


class Critic(nn.Module):
    """Scalar critic D(x) (WGAN critic or GAN discriminator logit)."""

    def __init__(self, hp: dict, d_in: int, stack: Stack | None = None):
        super().__init__()
        self.net = mlp(d_in, hp["hidden"], 1, hp["layers"], hp["critic_activation"], hp["fused_gradients"], stack)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.net.fused:  # the fused forward with its hand-written backward; no input gradient
            return self.net.value_and_grad(x, "linear", rows=0)[0]
        return self.net(x).squeeze(-1)

    def value_and_grad(self, x: torch.Tensor, rows: int | None = None, frozen: bool = False
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(D(x) for every row, ∇_x D(x) for the first `rows` rows), differentiable (MLP.value_and_grad)."""
        return self.net.value_and_grad(x, "linear", rows, frozen)


class Energy(nn.Module):
    """Energy E(x), p(x) ∝ exp(−E(x)): an MLP with K expert outputs h_k(x) combined by the energy head."""

    def __init__(self, hp: dict, d_in: int, stack: Stack | None = None):
        super().__init__()
        energy_head(hp["energy_head"])  # a clear error for an unknown head
        self.head = hp["energy_head"]
        self.net = mlp(d_in, hp["hidden"], hp["experts"], hp["layers"], hp["energy_activation"],
                       hp["fused_gradients"], stack)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.net.fused:  # the fused forward with its hand-written backward; no input gradient
            return self.net.value_and_grad(x, self.head, rows=0)[0]
        return ENERGY_HEADS[self.head].fn(self.net(x)).sum(-1)

    def energy_and_score(self, x: torch.Tensor, frozen: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(E(x), s(x) = −∇_x E(x)) together, both differentiable (in x only if `frozen`; MLP.value_and_grad)."""
        e, grad = self.net.value_and_grad(x, self.head, frozen=frozen)
        return e, -grad
