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
the run dimension; a method file only passes `self.stack` to the network factories.
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


class StackedBatches:
    """Mini-batches of K runs, (K, n, d): run k's batch from its own training set and its own numpy generator (the
    harness's `Batches`, one per run)."""

    def __init__(self, sources: list):
        self.sources = list(sources)
        self.batch_size = self.sources[0].batch_size

    def batch(self, n: int | None = None) -> torch.Tensor:
        return torch.stack([source.batch(n) for source in self.sources])
