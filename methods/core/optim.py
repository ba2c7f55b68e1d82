"""Adam and RMSProp on one flat parameter buffer per optimiser (the optimisers of paper Algorithm 1 and of the
released code).

The update rules are torch.optim's (and the papers'): Adam (Kingma & Ba 2015, Algorithm 1)

    m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²,   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

and RMSProp (Hinton's lecture 6e; torch.optim.RMSprop without momentum or centring)

    v ← α v + (1 − α) g²,   θ ← θ − lr · g / (√v + ε).

Why not torch.optim: for the suite's small MLPs its per-step bookkeeping is a large share of an iteration, and a
WGAN-GP iteration takes six optimiser steps; constructing any torch.optim optimiser also imports torch._dynamo,
1.2 s of every training job's start-up (torch 2.15). Here the constructor moves a module's parameters into one
contiguous buffer (each parameter becomes a view of it, as apex's and DeepSpeed's flat-buffer optimisers do), so
a step is one concatenation of the gradients and five element-wise operations on one tensor, whatever the number
of layers (methods/harness/bench.py measures it). A second optimiser of the same module steps the same buffer with
its own slots, as two torch.optim optimisers of one module would (`shared_buffer`). Build the optimiser after any
dtype or device change of its module (`.double()`, `.to(...)` replace the parameters' storage and undo the views).
For a stack of K runs (methods/core/stack.py; parameters with a leading run dimension) the buffer has K rows, one
per run, so each run keeps its own slots. tests/test_optim.py checks both rules
against torch.optim step by step.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch


def shared_buffer(params: list, runs: int | None) -> torch.Tensor | None:
    """The flat buffer another optimiser already laid these parameters out in, in this order, or None when they are
    not laid out yet. Two optimisers of one module (the released code's second optimiser on the Stein losses,
    methods/joint_w.py) must step the same storage: a second buffer would leave the first optimiser updating a
    copy the module no longer reads. Parameters laid out with others, or in another order, are refused."""
    buffers = [getattr(p, "_flat_buffer", None) for p in params]
    live = [b is not None and b.untyped_storage().data_ptr() == p.untyped_storage().data_ptr()
            for b, p in zip(buffers, params)]  # `.to()`/`.double()` give a parameter new storage: laid out no more
    if not any(live):
        return None
    flat, offset = buffers[0], 0
    for p, b, ok in zip(params, buffers, live):
        n = p[0].numel() if runs else p.numel()
        if not ok or b is not flat or p.data_ptr() != flat[..., offset:offset + n].data_ptr():
            raise ValueError("these parameters are already laid out by another optimiser with other parameters or "
                             "in another order; give both optimisers the same module")
        offset += n
    if offset != flat.shape[-1]:
        raise ValueError("these parameters share a flat buffer with parameters this optimiser does not have; give "
                         "both optimisers the same module")
    return flat


class _FlatOptimizer:
    """Shared parts: the flat buffer, `zero_grad`, and a state dict of the slots and the step count."""

    slots: tuple[str, ...] = ()

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, runs: int | None = None):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("an optimiser needs at least one parameter that requires grad")
        self.lr, self.base_lr, self.t, self.runs = lr, lr, 0, runs  # lr = base_lr × the schedule's factor
        first = self.params[0]
        # one run: a vector of all parameters; a stack of K runs (parameters (K, …)): K rows, one per run
        lead = () if runs is None else (runs,)
        self.flat = shared_buffer(self.params, runs)
        if self.flat is None:
            size = sum(p[0].numel() if runs else p.numel() for p in self.params)
            self.flat = torch.empty(*lead, size, dtype=first.dtype, device=first.device)
            offset = 0
            for p in self.params:
                n = p[0].numel() if runs else p.numel()
                view = self.flat[..., offset:offset + n]
                view.copy_(p.detach().reshape(*lead, n))
                p.data = view.view(p.shape)
                p._flat_buffer = self.flat  # a second optimiser of the same parameters shares it (shared_buffer)
                offset += n
        self.state = {name: torch.zeros_like(self.flat) for name in self.slots}
        # a stack's runs that no longer train (diverged): their rows are left as they are
        self.frozen = None if runs is None else torch.zeros(runs, dtype=torch.bool, device=first.device)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def flat_grad(self) -> torch.Tensor | None:
        """All gradients as one vector, a parameter without one counting as zero (a parameter the loss does not
        depend on, e.g. an energy's last bias under a score-only loss); None if no parameter has one."""
        return self._flatten([p.grad for p in self.params])

    def _flatten(self, grads: list) -> torch.Tensor | None:
        if all(g is None for g in grads):
            return None
        lead = () if self.runs is None else (self.runs,)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(*lead, -1)
                          for g, p in zip(grads, self.params)], -1)

    @torch.no_grad()
    def step(self) -> None:
        """One update from the parameters' .grad (after a backward pass)."""
        self.apply(self.flat_grad())

    @torch.no_grad()
    def apply(self, grads: list | torch.Tensor | None) -> None:
        """One update from gradients given directly, one per parameter in order (methods/core/steps.py).

        In a stack, a run whose gradient holds a NaN or an infinity, or that is `frozen` (a diverged run), keeps
        its parameters and slots: its row is not updated, so its parameters stay finite and the others go on. A
        row's test is its sum, one pass instead of an element-wise check (a sum that overflows float32 also stops
        the row: its gradients are beyond 10³⁴ anyway)."""
        g = self._flatten(grads) if isinstance(grads, list) else grads
        if g is None:
            return
        self.t += 1
        if self.runs is None:
            self.update(g)
            return
        skip = self.frozen | ~torch.isfinite(g.sum(-1))
        if not skip.any():
            self.update(g)
            return
        kept = [self.flat[skip].clone(), *(v[skip].clone() for v in self.state.values())]
        self.update(g.masked_fill(skip[:, None], 0.0))
        for target, old in zip([self.flat, *self.state.values()], kept):
            target[skip] = old

    def load_run_state(self, k: int, state: dict) -> None:
        """Row k of a stack's slots from an ordinary run's `state_dict` (every run at the same step count)."""
        for name in self.slots:
            self.state[name][k].copy_(state[name])
        self.t = int(state["t"])

    def update(self, g: torch.Tensor) -> None:
        """The update rule on the flat gradient g (step count `t` already advanced)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {"t": self.t, **{k: v.clone() for k, v in self.state.items()}}

    def load_state_dict(self, state: dict) -> None:
        for name in self.slots:
            if state[name].shape != self.flat.shape:
                raise ValueError(f"optimiser state {name} has shape {tuple(state[name].shape)}, this optimiser's "
                                 f"parameters {tuple(self.flat.shape)}: the checkpoint belongs to another network")
            self.state[name].copy_(state[name])
        self.t = int(state["t"])


class Adam(_FlatOptimizer):
    slots = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 runs: int | None = None):
        super().__init__(params, lr, runs)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def update(self, g: torch.Tensor) -> None:
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        m.lerp_(g, 1 - self.beta1)
        v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
        denom = v.sqrt().div_(math.sqrt(1 - self.beta2 ** self.t)).add_(self.eps)
        self.flat.addcdiv_(m, denom, value=-self.lr / (1 - self.beta1 ** self.t))


class RMSprop(_FlatOptimizer):
    slots = ("square_avg",)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, runs: int | None = None):
        super().__init__(params, lr, runs)
        self.alpha, self.eps = alpha, eps

    def update(self, g: torch.Tensor) -> None:
        v = self.state["square_avg"]
        v.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
        self.flat.addcdiv_(g, v.sqrt().add_(self.eps), value=-self.lr)


SCHEDULES = ("constant", "linear", "cosine", "linear_hold")
HOLD, HOLD_FACTOR = 0.25, 0.1  # linear_hold: the last quarter of the run trains at a tenth of the rate


def lr_factor(schedule: str, iteration: int, iterations: int, warmup: int = 0) -> float:
    """The learning-rate multiplier at `iteration` (1 … iterations): a linear warm-up from 1/warmup to 1 over the
    first `warmup` iterations, then `constant` (1), `linear` (1 − u), `cosine` (½(1 + cos πu); Loshchilov & Hutter
    2017 without restarts) or `linear_hold` (linear from 1 to HOLD_FACTOR over the first 1 − HOLD of the run, then
    HOLD_FACTOR), u ∈ [0, 1) the fraction of the post-warm-up iterations already done.

    `linear_hold` holds the rate fixed over the last quarter, the window in which a run is judged `plateaued`
    (evaluation/trained.py): under `linear` the rate still falls there and an annealing run keeps improving to its
    end, so a plateau could not be told from an unfinished run; under `linear_hold` a run that still moves at its
    final rate has not converged at it."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    if iteration <= warmup:
        return iteration / warmup
    if schedule == "constant":
        return 1.0
    u = (iteration - 1 - warmup) / max(1, iterations - warmup)
    if schedule == "linear_hold":
        return max(HOLD_FACTOR, 1 - (1 - HOLD_FACTOR) * u / (1 - HOLD))
    return 1 - u if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * u))
