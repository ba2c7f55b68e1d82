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

import copy
import math
from contextlib import contextmanager
from typing import Protocol

import torch
from torch import nn

from methods.core.entropy import DAEScore
from methods.core.nets import StackedLinear
from methods.core.optim import Adam, RMSprop, lr_factor
from methods.core.params import Param
from methods.core.stack import Stack
from methods.core.updates import descend

OPTIMIZERS = ("adam", "rmsprop")
SIDES = ("implicit", "explicit", None)  # an optimiser's side: a generator's or a critic's, an energy's, or neither
AVERAGED = ("generator", "energy_net")  # the networks a method is evaluated by, averaged when hp["ema"] > 0


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
    # through the layout helpers of methods/core/stack.py (no branch on `stack is None` in a method file)
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
        self.sides: dict[str, str | None] = {}  # each optimiser's side, for a per-side lr_schedule

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

    def schedule(self, iteration: int) -> None:
        """Every optimiser's learning rate for `iteration` (1-based) of hp["iterations"]: its base rate times
        `lr_factor` of the schedule hp["lr_schedule"] (methods/core/optim.py), one for every optimiser or, given as
        {implicit: …, explicit: …}, one per side (`side_schedule`)."""
        for name, opt in self.optimizers.items():
            opt.lr = opt.base_lr * lr_factor(self.side_schedule(name), iteration, self.hp["iterations"],
                                             self.hp["lr_warmup"])

    def side_schedule(self, name: str) -> str:
        """The schedule of the optimiser kept under `name`: hp["lr_schedule"], or its side's entry when that is a
        mapping {implicit: …, explicit: …} (the side given when the optimiser was made)."""
        schedule = self.hp["lr_schedule"]
        if isinstance(schedule, str):
            return schedule
        side = self.sides.get(name)
        if side not in schedule:
            raise ValueError(f"{self.name}: optimiser {name!r} was made without a side, so it has no schedule in "
                             f"lr_schedule {schedule}; pass side='implicit' or side='explicit' to self.adam")
        return schedule[side]

    def keep(self, name: str, opt, side: str | None):
        """Keep optimiser `opt` under `name` (checkpoints save its slots) with its side: "implicit" (a generator's
        or a critic's), "explicit" (an energy's or a Stein critic's) or None (follows a single lr_schedule)."""
        if side not in SIDES:
            raise ValueError(f"optimiser {name!r}: side {side!r}; valid: {', '.join(map(str, SIDES))}")
        self.optimizers[name], self.sides[name] = opt, side
        return opt

    def adam(self, name: str, module: nn.Module, lr: float, beta1: float, side: str | None = None) -> Adam:
        """An Adam optimiser for `module` (methods/core/optim.py), kept under `name` with its `side` (`keep`)."""
        return self.keep(name, Adam(module.parameters(), lr=lr, betas=(beta1, self.hp["beta2"]), runs=self.runs),
                         side)

    def optimizer(self, name: str, module: nn.Module, kind: str, lr: float, beta1: float,
                  side: str | None = None) -> Adam | RMSprop:
        """An optimiser of `kind` for `module`, kept under `name` with its `side`: "adam" (as `adam`) or "rmsprop"
        (the released 2-D code's choice for its Stein losses; smoothing constant hp["rmsprop_alpha"], no momentum;
        `beta1` unused)."""
        if kind == "adam":
            return self.adam(name, module, lr, beta1, side)
        if kind != "rmsprop":
            raise ValueError(f"unknown optimizer {kind!r} for {name}; valid: {', '.join(OPTIMIZERS)}")
        return self.keep(name, RMSprop(module.parameters(), lr=lr, alpha=self.hp["rmsprop_alpha"], runs=self.runs),
                         side)

    def score_estimator(self, name: str, side: str | None = None) -> DAEScore:
        """A DAE score estimator (methods/core/entropy.py, the `entropy:` options) for this method's data, its Adam
        slots kept under `name` with its `side` (`keep`), so checkpoints carry them."""
        dae = DAEScore(self.hp, math.prod(self.data_shape), self.stack)
        self.keep(name, dae.opt, side)
        return dae

    step = staticmethod(descend)  # one descent step of an optimiser on a loss (methods/core/updates.py)

    def checkpoint_state(self) -> dict:
        return {"model": self.state_dict(), "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_checkpoint_state(self, state: dict) -> None:
        self._averages_for(state["model"])
        self.load_state_dict(state["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])

    # --- weight averages (hp["ema"]; docs/recipe.md) ---------------------------------------------
    # With ema > 0 the runner keeps an exponential moving average of the weights of the networks a method is
    # evaluated by (AVERAGED: its generator, its energy), and every metric, curve row, sample and density is that of
    # the average (Polyak averaging; Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training").
    # Training never reads the averages. They sit in `self.averages`, so checkpoints and stacks carry them.
    def _averages_for(self, model_state: dict | None = None) -> None:
        """Create `self.averages` (copies of the AVERAGED networks): for a run that averages (no `model_state`), or
        before loading a checkpoint's `model_state` that holds averages (one written before the first update holds
        none, and its averages start at the next update)."""
        wanted = self.hp["ema"] > 0 if model_state is None else \
            any(k.startswith("averages.") for k in model_state)
        if wanted and "averages" not in self._modules:
            nets = {name: copy.deepcopy(self._modules[name]) for name in AVERAGED if name in self._modules}
            for net in nets.values():
                net.requires_grad_(False)
            self.averages = nn.ModuleDict(nets)

    @torch.no_grad()
    def update_averages(self, iteration: int) -> None:
        """After training iteration `iteration` (1-based): average ← d·average + (1 − d)·weights, with
        d = min(ema, (1 + t)/(10 + t)), so the average forgets its random initialisation within the first
        iterations; buffers are copied. No-op when hp["ema"] is 0."""
        decay = self.hp["ema"]
        if decay <= 0:
            return
        self._averages_for()
        decay = min(decay, (1 + iteration) / (10 + iteration))
        for name, average in self.averages.items():
            live = self._modules[name]
            torch._foreach_lerp_(list(average.parameters()), list(live.parameters()), 1 - decay)
            for mine, theirs in zip(average.buffers(), live.buffers()):
                mine.copy_(theirs)

    def swap_averages(self) -> None:
        """Exchange the AVERAGED networks with their averages (a second call swaps them back); no-op without
        averages."""
        if "averages" in self._modules:
            for name in list(self.averages):
                self._modules[name], self.averages._modules[name] = self.averages._modules[name], \
                    self._modules[name]

    @contextmanager
    def averaged(self):
        """Inside: the AVERAGED networks are their averages (sample, energy and everything built on them); the
        training weights are back on exit."""
        self.swap_averages()
        try:
            yield self
        finally:
            self.swap_averages()

    # --- stacks (methods/core/stack.py) --------------------------------------------------------------------------
    @classmethod
    def stacks(cls, hp: dict) -> bool:
        """Whether runs with these hyper-parameters can train as one stack: a `stackable` method on the closed-form
        paths (MLPs with `fused_gradients`, the KSD)."""
        return cls.stackable and hp["fused_gradients"] and hp["discrepancy"] == "ksd"

    def freeze_run(self, k: int) -> None:
        """Stop training run k of the stack (it diverged): its parameters and slots stay as they are."""
        for o in self.optimizers.values():
            o.frozen[k] = True

    def _stacked_keys(self) -> set[str]:
        """state_dict keys with a leading run dimension: the weights and biases of the stacked layers, and the
        parameters and buffers a module lists in `stacked_tensors` (e.g. the DAE's running moments)."""
        if self.stack is None:
            return set()
        return {f"{name}.{p}" if name else p for name, m in self.named_modules()
                for p in (("weight", "bias") if isinstance(m, StackedLinear) else getattr(m, "stacked_tensors", ()))}

    def run_state(self, k: int) -> dict:
        """`checkpoint_state` of run k of the stack, shaped as an ordinary run's: it loads into the method built
        without a stack (so a stacked run's checkpoint is an ordinary run's checkpoint)."""
        stacked = self._stacked_keys()
        model = {key: (v[k] if key in stacked else v).clone() for key, v in self.state_dict().items()}
        optimizers = {name: {"t": o.t, **{slot: v[k].clone() for slot, v in o.state.items()}}
                      for name, o in self.optimizers.items()}
        return {"model": model, "optimizers": optimizers}

    @torch.no_grad()
    def load_run_state(self, k: int, state: dict) -> None:
        """Load an ordinary run's `checkpoint_state` into run k of the stack (every run at the same iteration)."""
        self._averages_for(state["model"])
        stacked = self._stacked_keys()
        for key, v in self.state_dict().items():
            (v[k] if key in stacked else v).copy_(state["model"][key])
        for name, o in self.optimizers.items():
            o.load_run_state(k, state["optimizers"][name])

    def run_view(self, k: int) -> Method:
        """Run k of the stack as an ordinary method (a copy of its networks), e.g. to evaluate or sample it."""
        with torch.random.fork_rng(devices=[]):  # building it draws initial weights: keep the global stream
            view = type(self)(self.hp, self.data_shape)
        view.load_checkpoint_state(self.run_state(k))
        return view
