"""The method contract (SPEC §2.1).

A method is built from (hyper-parameters, data shape, seed) and says what ONE training iteration does; the
runner (`methods/harness/train.py`) owns the loop, the data, checkpoints, logging and seeds. It exposes

* `train_step(data) -> dict[str, Tensor]`: one iteration; `data.batch()` draws a fresh mini-batch of training data
  as often as the iteration needs (e.g. once per critic step); returns its named losses (scalars);
* `sample(n)`: n samples, where the method has a generator (`has_generator`);
* `energy(x)`: E(x) with p(x) ∝ exp(−E(x)), where it has an explicit model (`has_energy`);
* `checkpoint_state()` / `load_checkpoint_state()`: networks and optimiser slots.
"""
from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from methods.core.optim import Adam, RMSprop

OPTIMIZERS = ("adam", "rmsprop")


class Batches(Protocol):
    def batch(self, n: int | None = None) -> torch.Tensor: ...


class Method(nn.Module):
    name: str = ""
    kind: str = ""  # one of methods.KINDS (implicit, explicit, joint): how the figures group the method
    has_generator: bool = False
    has_energy: bool = False

    def __init__(self, hp: dict, data_shape: tuple[int, ...]):
        super().__init__()
        self.hp = dict(hp)
        self.data_shape = tuple(data_shape)
        self.optimizers: dict[str, Adam | RMSprop] = {}

    # --- what a method implements -------------------------------------------------------------------------------
    def train_step(self, data: Batches) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no generator")

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no explicit energy model")

    # --- helpers ------------------------------------------------------------------------------------------------
    def adam(self, name: str, module: nn.Module, lr: float, beta1: float) -> Adam:
        """An Adam optimiser for `module` (methods/core/optim.py), kept under `name` so checkpoints save its
        slots."""
        opt = Adam(module.parameters(), lr=lr, betas=(beta1, self.hp["beta2"]))
        self.optimizers[name] = opt
        return opt

    def optimizer(self, name: str, module: nn.Module, kind: str, lr: float, beta1: float) -> Adam | RMSprop:
        """An optimiser of `kind` for `module`, kept under `name`: "adam" (as `adam`) or "rmsprop" (the released
        2-D code's choice for its Stein losses; smoothing constant hp["rmsprop_alpha"], no momentum; `beta1`
        unused)."""
        if kind == "adam":
            return self.adam(name, module, lr, beta1)
        if kind != "rmsprop":
            raise ValueError(f"unknown optimizer {kind!r} for {name}; valid: {', '.join(OPTIMIZERS)}")
        opt = RMSprop(module.parameters(), lr=lr, alpha=self.hp["rmsprop_alpha"])
        self.optimizers[name] = opt
        return opt

    @staticmethod
    def step(opt: Adam | RMSprop, loss: torch.Tensor) -> None:
        """One descent step of `opt` on `loss`. The backward pass computes gradients for `opt`'s parameters only:
        e.g. a generator step's loss also depends on the critic's (and the energy's) weights, whose gradients
        would be discarded anyway, and autograd then skips their weight-gradient products."""
        opt.zero_grad(set_to_none=True)
        loss.backward(inputs=opt.params)
        opt.step()

    def checkpoint_state(self) -> dict:
        return {"model": self.state_dict(), "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_checkpoint_state(self, state: dict) -> None:
        self.load_state_dict(state["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
