"""Declared hyper-parameters: what a method (or one of its update blocks) accepts, with its default, its valid
values and one line of meaning, written next to the code that uses it (as benchopt's solvers declare theirs).

    hyperparameters = {
        "gp_weight": Param(10.0, "λ of the gradient penalty", low=0),
        "penalty": Param("two_sided", "two_sided (Gulrajani et al. 2017) | hinge (released code)",
                         choices=("two_sided", "hinge")),
    }

config/config.yaml (`methods: <name>:`) and the profiles override the defaults; `Param.check` validates a value and
accepts numbers written as strings, which is how Snakemake hands over nested `--config` values.
"""
from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Param:
    default: Any
    help: str
    choices: tuple = ()           # the valid values, if a closed set
    low: float | None = None      # inclusive bounds of a number
    high: float | None = None
    nullable: bool = False        # None (YAML null) is valid too
    type: type | None = None      # inferred from the default when not given (int defaults also accept floats if
                                  # type=float is given)

    @property
    def kind(self) -> type | None:
        if self.type is not None:
            return self.type
        return None if self.default is None else type(self.default)

    def check(self, value: Any, where: str) -> Any:
        """`value` validated (and a number or boolean given as a string converted); raises ValueError naming
        `where` (e.g. "methods.wgan_gp.gp_weight"), the bad value and what is valid."""
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if self.nullable or self.default is None:
                return None
            raise ValueError(f"{where}: null is not valid; {self.describe()}")
        value = coerce(value, self.kind)
        if self.choices:
            if value not in self.choices:
                raise ValueError(f"{where}: {value!r} is not valid; {self.describe()}")
            return value
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not None and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
            raise ValueError(f"{where}: {value!r} is not of type {kind.__name__}; {self.describe()}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{where}: {value!r} is out of range; {self.describe()}")
        return value

    def describe(self) -> str:
        """The valid values, in words."""
        if self.choices:
            valid = "one of " + ", ".join(map(str, self.choices))
        else:
            valid = f"a {self.kind.__name__}" if self.kind is not None else "any value"
            if self.low is not None or self.high is not None:
                valid += " in [" + ("−∞" if self.low is None else f"{self.low:g}") + ", " + \
                         ("∞" if self.high is None else f"{self.high:g}") + "]"
        return valid + (" or null" if self.nullable else "") + f" (default {self.default!r}): {self.help}"


def coerce(value: Any, kind: type | None = None) -> Any:
    """A string that spells a number or a boolean, as its value (`"4"` → 4, `"1e-3"` → 0.001, `"true"` → True);
    anything else unchanged. YAML 1.1 reads 1e-3 as a string and Snakemake passes nested `--config` values as
    strings; `kind` (int, float, bool) decides ambiguous spellings."""
    if not isinstance(value, str) or kind is str:
        return value
    text = value.strip()
    if kind is bool or text.lower() in ("true", "false"):
        return {"true": True, "false": False}.get(text.lower(), value)
    for parse in ((float,) if kind is float else (int, float)):
        try:
            return parse(text)
        except ValueError:
            continue
    return value
