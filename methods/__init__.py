"""Methods of the suite (SPEC §2): one file per method, registered by its name.

A method file `methods/<name>.py` defines one subclass of `methods.core.base.Method` with `name = "<name>"`,
decorated with `@register`; its hyper-parameters live in `config/config.yaml` under `methods: <name>:`.
Nothing else needs editing: `available()` finds the file, the DAG, tests, tables and figures pick it up.

This module imports no torch, so the Snakefile can list methods cheaply.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

KINDS = ("implicit", "explicit", "joint")  # a generator; an energy model (with or without a sampler); both

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: make `cls` available under `cls.name`, which must equal its file's name."""
    module = cls.__module__.rsplit(".", 1)[-1]
    if cls.name != module:
        raise TypeError(f"method class {cls.__qualname__} in methods/{module}.py has name = {cls.name!r}; "
                        f"a method's name must equal its file's name ({module!r})")
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
