"""What a configuration may say, and values from the command line: the schema (config/schema.yaml), the keys each
method's entry accepts (the shared sections' and its declared parameters, methods/core/params.py), and the
conversion of the strings Snakemake hands over for nested `--config` values.

`normalise` turns a string that spells a number, a boolean or null into that value wherever the schema or a
method's declared parameter expects one (`training='{threads: 4}'` gives "4"; YAML 1.1 reads `1e-3` as a string);
`check_entry` gives one message naming the entry, the key and the valid keys for an unknown key, a wrong type or
an out-of-range value. Used by methods/harness/config.py.
"""
from __future__ import annotations

import difflib
import functools
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "config" / "schema.yaml"
SHARED_SECTIONS = ("training", "networks", "optim", "stein", "entropy")  # merged, in this order, under each method


class ConfigError(ValueError):
    """An invalid configuration; the message names the key, the bad value and the valid choices."""


@functools.cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


@functools.cache
def shared_keys() -> dict[str, dict]:
    """Every key of the shared sections with its schema, e.g. {"lr_implicit": {type: number, …}}."""
    props = schema()["properties"]
    return {k: v for section in SHARED_SECTIONS for k, v in props[section]["properties"].items()}


def _types(sch: dict) -> set:
    kinds = sch.get("type", [])
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    for alternative in sch.get("oneOf", []) + sch.get("anyOf", []):
        kinds |= _types(alternative)
    return kinds


def coerce_schema(value, sch: dict):
    """`value` with every string that spells what `sch` expects (a number, an integer, a boolean, null) converted;
    dicts and lists are walked along the schema's properties and items."""
    from methods.core.params import coerce

    if isinstance(value, dict):
        props, extra = sch.get("properties", {}), sch.get("additionalProperties")
        return {k: coerce_schema(v, props.get(k, extra if isinstance(extra, dict) else {})) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_schema(v, sch.get("items", {})) for v in value]
    if not isinstance(value, str):
        return value
    kinds = _types(sch)
    if "null" in kinds and value.strip().lower() in ("null", "none", "~"):
        return None
    for kind, cls in (("integer", int), ("number", float), ("boolean", bool)):
        if kind in kinds:
            converted = coerce(value, cls)
            if converted is not value and not (cls is int and not float(converted).is_integer()):
                return int(converted) if cls is int else converted
    return value


def _spelled(value) -> bool:
    """Whether `value` is a string that spells a number, a boolean or null."""
    from methods.core.params import coerce

    return isinstance(value, str) and (coerce(value) is not value or value.strip().lower() in ("null", "none", "~"))


def _coerce_entry(entry, keys):
    """A hyper-parameter entry with its spelled values converted by their key's schema or declared parameter
    (`keys()` gives them; called only when a value needs it, since declared parameters import the methods)."""
    from methods.core.params import Param

    if not isinstance(entry, dict) or not any(_spelled(v) or isinstance(v, list) for v in entry.values()):
        return entry
    known, out = keys(), {}
    for k, v in entry.items():
        spec = known.get(k)
        if isinstance(spec, Param) and _spelled(v):
            try:
                v = spec.check(v, k)
            except ValueError:
                pass  # reported by `check`, with its key's full name
        elif not isinstance(spec, Param):
            v = coerce_schema(v, spec or {})
        out[k] = v
    return out


def normalise(cfg: dict) -> dict:
    """The configuration with the strings of command-line overrides (and YAML 1.1's `1e-3`) converted to the numbers,
    booleans and nulls that the schema or a method's declared parameters expect."""
    out = coerce_schema(cfg, schema())
    images = out.get("images") or {}
    if isinstance(images.get("hparams"), dict):
        images["hparams"] = _coerce_entry(images["hparams"], all_keys)
    out["methods"] = {name: _coerce_entry(entry, functools.partial(valid_keys, name))
                      for name, entry in (out.get("methods") or {}).items()}
    for preset, entries in (out.get("presets") or {}).items():
        for part, entry in (entries or {}).items():
            if part == "by_dataset" and isinstance(entry, dict):
                entries[part] = {d: _coerce_entry(e, all_keys) for d, e in entry.items()}
            else:
                entries[part] = _coerce_entry(entry, all_keys if part == "all" else functools.partial(valid_keys, part))
    return out


# --- what each method accepts -------------------------------------------------------------------------------------
def declared(name: str) -> dict:
    """The hyper-parameters that method `name` declares: {key: Param} (methods/core/params.py)."""
    import methods

    return dict(methods.get(name).hyperparameters)


def defaults(name: str) -> dict:
    """The declared defaults of method `name`: {key: default}."""
    import methods

    return methods.get(name).defaults()


def valid_keys(name: str) -> dict:
    """The keys a `methods: <name>:` entry may set: the shared sections' (with their schema) and the method's
    declared parameters (with their Param); {} for a method without a file."""
    import methods

    if name not in methods.available():
        return {}
    return shared_keys() | declared(name)


@functools.cache
def all_keys() -> dict:
    """The keys an entry for every method (a preset's `all:` and `by_dataset:`, `images: hparams:`) may set: the
    shared sections', the image track's and every method's declared parameters."""
    import methods

    out = dict(shared_keys())
    out |= schema()["properties"]["images"]["properties"]["hparams"].get("properties", {})
    for name in methods.available():
        out |= declared(name)
    return out


def check_entry(entry, keys: dict, where: str, whose: str) -> None:
    """One message for the first unknown key, wrong type or out-of-range value of a hyper-parameter entry."""
    import jsonschema

    from methods.core.params import Param

    if entry is None:
        return
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping of hyper-parameters, got {entry!r}")
    for key, value in entry.items():
        spec = keys.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, keys, n=1)
            own = sorted(k for k in keys if k not in shared_keys())
            raise ConfigError(
                f"{where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "") +
                f"; valid keys of {whose}: " + (f"{', '.join(own)}, " if own else "") +
                f"and any key of the shared sections ({', '.join(SHARED_SECTIONS)}): {', '.join(shared_keys())}")
        if isinstance(spec, Param):
            try:
                spec.check(value, f"{where}.{key}")
            except ValueError as err:
                raise ConfigError(str(err)) from None
            continue
        try:
            jsonschema.validate(value, spec)
        except jsonschema.ValidationError as err:
            raise ConfigError(f"{where}.{key}: {describe(err)}") from None


def describe(err) -> str:
    bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems")
    if err.validator in bounds:
        return f"{err.instance!r} is out of range ({err.message})"
    return err.message
