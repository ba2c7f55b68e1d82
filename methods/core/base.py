"""The method contract (README, "Adding a method"; methods/__init__.py).

A method is built from (hyper-parameters, data shape, seed) and says what ONE training iteration does; the
runner (`methods/harness/train.py`) owns the loop, the data, checkpoints, logging and seeds. It exposes

* `train_step(data) -> dict[str, Tensor]`: one iteration; `data.batch()` draws a fresh mini-batch of training data
  as often as the iteration needs (e.g. once per critic step); returns its named losses (scalars);
* `sample(n)`: n samples, where the method has a generator (`has_generator`);
* `energy(x)`: E(x) with p(x) ∝ exp(−E(x)), where it has an explicit model (`has_energy`);
* `checkpoint_state()` / `load_checkpoint_state()`: networks and optimiser slots;

and declares `hyperparameters`, its own hyper-parameters (methods/core/params.py `Param`). A method is written from the
update blocks of methods/core/updates.py, which choose between the closed-form fast paths and autograd.
"""
from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn

from methods.core.entropy import DAEScore
from methods.core.optim import Adam, RMSprop
from methods.core.params import Param
from methods.core.stack import Stack
from methods.core.updates import descend

OPTIMIZERS = ("adam", "rmsprop")


class Batches(Protocol):
    def batch(self, n: int | None = None) -> torch.Tensor: ...


class Method(nn.Module):
    name: str = ""
    kind: str = ""  # one of methods.KINDS (implicit, explicit, joint): how the figures group the method
    has_generator: bool = False
    has_energy: bool = False
    # the method's own hyper-parameters (not those of config.yaml's shared sections): name → Param with its default;
    # config/config.yaml's `methods: <name>:` entry and the profiles override them (`python -m methods` lists them)
    hyperparameters: dict[str, Param] = {}
    # whether K runs can train as one stack (methods/core/stack.py): its networks come from methods/core/nets.py
    # with `self.stack`, its steps from the update blocks, and its own tensor code keeps a leading run dimension
    stackable: bool = False

    @classmethod
    def defaults(cls) -> dict:
        """{name: default} of the declared `hyperparameters`."""
        return {key: param.default for key, param in cls.hyperparameters.items()}

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack: Stack | None = None):
        super().__init__()
        if stack is not None and not self.stackable:
            raise ValueError(f"method {self.name!r} does not train in stacks; give it stack: 1")
        self.stack = stack  # None: one run
        # the declared parameters: their defaults where hp lacks them, each value checked (Param.check)
        self.hp = {**self.defaults(), **hp}
        for key, param in self.hyperparameters.items():
            self.hp[key] = param.check(self.hp[key], f"methods.{self.name}.{key}")
        self.data_shape = tuple(data_shape)
        self.optimizers: dict[str, Adam | RMSprop] = {}

    # --- what a method implements -------------------------------------------------------------------------------
    def train_step(self, data: Batches) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """n samples G(z) of the method's `generator`."""
        if not self.has_generator:
            raise NotImplementedError(f"{self.name} has no generator")
        return self.generator(n)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) of the method's `energy_net`."""
        if not self.has_energy:
            raise NotImplementedError(f"{self.name} has no explicit energy model")
        return self.energy_net(x)

    # --- helpers ------------------------------------------------------------------------------------------------
    @property
    def runs(self) -> int | None:
        """K for a stack, None for one run (the optimisers' layout)."""
        return None if self.stack is None else len(self.stack)

    def adam(self, name: str, module: nn.Module, lr: float, beta1: float) -> Adam:
        """An Adam optimiser for `module` (methods/core/optim.py), kept under `name` so checkpoints save its
        slots."""
        opt = Adam(module.parameters(), lr=lr, betas=(beta1, self.hp["beta2"]), runs=self.runs)
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
        opt = RMSprop(module.parameters(), lr=lr, alpha=self.hp["rmsprop_alpha"], runs=self.runs)
        self.optimizers[name] = opt
        return opt

    def score_estimator(self, name: str) -> DAEScore:
        """A DAE score estimator (methods/core/entropy.py, the `entropy:` options) for this method's data, its Adam
        slots kept under `name` so checkpoints carry them."""
        dae = DAEScore(self.hp, math.prod(self.data_shape))
        self.optimizers[name] = dae.opt
        return dae

    step = staticmethod(descend)  # one descent step of an optimiser on a loss (methods/core/updates.py)

    def checkpoint_state(self) -> dict:
        return {"model": self.state_dict(), "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_checkpoint_state(self, state: dict) -> None:
        self.load_state_dict(state["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
