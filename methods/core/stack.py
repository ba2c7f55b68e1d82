"""Stacks: K independent runs of one method trained together, as one set of networks with a leading run dimension
(docs/performance.md, "Stacked runs").

A 2-D training iteration is bound by the fixed cost of each tensor operation, not by its arithmetic: one layer of
a 128-wide MLP on a batch of 100 is a few hundred thousand multiply-adds. K runs of the same method and data shape
therefore train as one stack: every weight W (out, in) becomes (K, out, in), every batch (B, d) becomes (K, B, d),
every matrix product a batched one (`torch.baddbmm`), and each of the K runs still has

* its own random streams (`Stack`): initial weights, data batches, the generator's noise z, the interpolation
  weights ε of the gradient penalty; a run's draws come in the same order as when it trains alone, so a run's
  numbers do not depend on its stack (tests/test_stack.py trains a run alone and inside a stack of mixed runs);
* its own training data (`StackedBatches`: e.g. the nine noise ratios of the contamination curve);
* its own losses: every reduction over a batch stays per run, and a stack's loss is the sum of its runs' losses, so
  each run's gradient is its own;
* its own optimiser slots (methods/core/optim.py keeps a (K, P) buffer).

`stack = None` is an ordinary run: no leading dimension, the global random generators, exactly the arithmetic of
an unstacked run. The update blocks (methods/core/updates.py) and the networks (methods/core/nets.py) take care of
the run dimension; a method file only passes `self.stack` to the network factories, and its own tensor code uses
the layout helpers below (`run_dims`, `batch_dim`, `per_run`, `points`, `dot`, `row_index`, `draw`, `draw_at`),
which handle one run and a stack alike, so it has no branch on `stack is None`.
"""
from __future__ import annotations

import torch


class Stack:
    """The K runs of a stack: one seeded torch.Generator per run (the seed a run would give torch.manual_seed
    alone, so its draws are the same numbers)."""

    def __init__(self, seeds: list[int], device: str | torch.device = "cpu"):
        if not seeds:
            raise ValueError("a stack needs at least one run")
        self.seeds = [int(s) for s in seeds]
        self.generators = [torch.Generator(device).manual_seed(s) for s in self.seeds]

    def __len__(self) -> int:
        return len(self.seeds)

    def draw(self, sampler, *shape: int, dim: int = 0) -> torch.Tensor:
        """Each run's draw of `sampler` (torch.rand, torch.randn, …) of `shape`, stacked along `dim`."""
        return torch.stack([sampler(*shape, generator=g) for g in self.generators], dim)

    def get_state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: list[torch.Tensor]) -> None:
        if len(states) != len(self.generators):
            raise ValueError(f"{len(states)} random-generator states for a stack of {len(self.generators)} runs")
        for g, state in zip(self.generators, states):
            g.set_state(state)


def runs(stack: Stack | None) -> int:
    """K: the number of runs (1 for an unstacked run)."""
    return 1 if stack is None else len(stack)


def draw(stack: Stack | None, sampler, *shape: int, dim: int = 0) -> torch.Tensor:
    """`sampler(*shape)` from the global generator (stack None), or each run's, stacked along `dim`."""
    return sampler(*shape) if stack is None else stack.draw(sampler, *shape, dim=dim)


# Layouts of a method's own tensors, for one run (stack None) and for a stack of K runs alike, so that a method file
# reads the same for both (methods/ebm_langevin.py, methods/egan.py): a per-run tensor (a buffer, a parameter) has
# the leading dimensions `run_dims`, a batch of points has its batch dimension at `batch_dim`.
def run_dims(stack: Stack | None) -> tuple[int, ...]:
    """The leading dimensions of a tensor held per run: () for one run, (K,) for a stack."""
    return () if stack is None else (len(stack),)


def batch_dim(stack: Stack | None) -> int:
    """The batch dimension of a batch of points: 0 for one run ((n, *shape)), 1 for a stack ((K, n, *shape))."""
    return 0 if stack is None else 1


def per_run(stack: Stack | None, t: torch.Tensor) -> torch.Tensor:
    """A tensor held per run, (*run_dims, *shape), made broadcastable against a batch (*run_dims, n, *shape):
    unchanged for one run, (K, 1, *shape) for a stack."""
    return t if stack is None else t.unsqueeze(1)


def points(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A batch of points of data shape `shape` as vectors: (n, D) for one run's (n, *shape) (images flattened),
    (K, n, D) for a stack's (K, n, *shape); D = prod(shape)."""
    return x.flatten(x.dim() - len(shape))


def dot(stack: Stack | None, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """x·v for every point: x (n, D) and v (D,) for one run (a matrix-vector product), x (K, n, D) and v (K, D) for
    a stack, each run's points with its own v (a batched product); shape (*run_dims, n)."""
    return x @ v if stack is None else (x @ v.unsqueeze(-1)).squeeze(-1)


def row_index(stack: Stack | None, idx: torch.Tensor):
    """The index that reads or writes rows `idx` of a tensor held per run, (*run_dims, N, …): rows idx (n,) of one
    run's (N, …), or rows idx[k] (idx (K, n)) of each run k's part of a stack's (K, N, …)."""
    return idx if stack is None else (torch.arange(len(stack))[:, None], idx)


def draw_at(stack: Stack | None, mask: torch.Tensor, sampler, *shape: int) -> torch.Tensor:
    """A tensor (*mask.shape, *shape) holding, where `mask` ((n,), or (K, n) for a stack) is True, `sampler(m,
    *shape)`: one draw from the global generator for one run, one from each run's stream for a stack (run k draws
    m = its number of True entries, so its stream advances as in a run alone); zero elsewhere."""
    out = torch.zeros(*mask.shape, *shape, device=mask.device)
    if stack is None:
        out[mask] = sampler(int(mask.sum()), *shape)
    else:
        for k, g in enumerate(stack.generators):
            out[k, mask[k]] = sampler(int(mask[k].sum()), *shape, generator=g)
    return out


class StackedBatches:
    """Mini-batches of K runs, (K, n, d): run k's batch from its own training set and its own numpy generator (the
    harness's `Batches`, one per run)."""

    def __init__(self, sources: list):
        self.sources = list(sources)
        self.batch_size = self.sources[0].batch_size

    def batch(self, n: int | None = None) -> torch.Tensor:
        return torch.stack([source.batch(n) for source in self.sources])
