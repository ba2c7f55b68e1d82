"""Methods of the suite (README, "Adding a method"): one file per method, registered by its name.

A method file `methods/<name>.py` defines one subclass of `methods.core.base.Method` with `name = "<name>"`,
decorated with `@register`, written from the update blocks of methods/core/updates.py; it declares its own
hyper-parameters (`hyperparameters`, name → Param; config/config.yaml's `methods: <name>:` entry sets only what
runs use differently). A variant of another method's algorithm (joint_js of joint_w, dgm of egan, wgan_er of
gan_er, …) is an ordinary subclass of that method's class in its own file, registered the same way, declaring
`name` and every class attribute that differs (e.g. `loss`, `kind`, `bridged`, `hyperparameters`).
Nothing else needs editing: `available()` finds the file, the DAG, tests, tables and figures pick it up.
`python -m methods` lists every method with its kind, its declared parameters and the values runs get.

This module imports no torch, so the Snakefile can list methods cheaply.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

KINDS = ("implicit", "explicit", "joint")  # a generator; an energy model (with or without a sampler); both

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: make `cls` available under `cls.name`, which must equal its file's name and be set in the
    class itself (a variant, a subclass of another method's class, would otherwise inherit its base's name); its
    `kind` must be one of KINDS and each declared parameter's default must pass its own check."""
    module = cls.__module__.rsplit(".", 1)[-1]
    if vars(cls).get("name") != module:
        raise TypeError(f"method class {cls.__qualname__} in methods/{module}.py has name = {cls.name!r}; "
                        f"a method's name must equal its file's name ({module!r})")
    if cls.kind not in KINDS:
        raise TypeError(f"method {cls.name!r} has kind = {cls.kind!r}; valid kinds: {', '.join(KINDS)}")
    for key, param in getattr(cls, "hyperparameters", {}).items():  # a declared default must be valid itself
        param.check(param.default, f"methods.{cls.name}.{key}")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of every method file in this package (without importing any of them); the subpackages `core` (shared
    parts) and `harness` (configuration, runner, benchmark) hold no method."""
    here = [Path(__file__).parent.as_posix()]
    return sorted(m.name for m in pkgutil.iter_modules(here) if not m.ispkg and not m.name.startswith("_"))


def get(name: str) -> type:
    """The method class called `name` (a variant `name@preset` gives the class of `name`); an unknown name raises
    a ValueError listing the valid ones."""
    name = name.partition("@")[0]
    if name not in available():
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(available())}. "
                         f"To add one, create methods/{name}.py and a `{name}:` entry under `methods:` in "
                         f"config/config.yaml")
    importlib.import_module(f"methods.{name}")
    if name not in _REGISTRY:
        raise TypeError(f"methods/{name}.py defines no method: decorate a Method subclass that has "
                        f"name = {name!r} with @register")
    return _REGISTRY[name]

