"""The suite's configuration: config/config.yaml with a profile merged over it, validated, and expanded into runs.

The Snakefile and every command-line entry point use these functions, so a run started by hand resolves exactly
the hyper-parameters the DAG would use.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path

import yaml

from datasets.images import IMAGE_DATASETS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "config" / "schema.yaml"
SHARED_SECTIONS = ("training", "networks", "optim", "stein", "entropy")  # merged, in this order, under each method's entry


class ConfigError(ValueError):
    """An invalid configuration; the message names the key, the bad value and the valid choices."""


def profiles(root: Path = ROOT) -> list[str]:
    return sorted(p.stem for p in (root / "config" / "profiles").glob("*.yaml"))


def merge(base: dict, over: dict) -> dict:
    """Recursive dict merge: `over` wins; nested dicts merge, everything else (lists included) is replaced."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def profile_file(name: str, root: Path = ROOT) -> Path:
    if name not in profiles(root):
        raise ConfigError(f"unknown profile {name!r}; valid profiles: {', '.join(profiles(root))} "
                          f"(files in config/profiles/)")
    return root / "config" / "profiles" / f"{name}.yaml"


def load(profile: str | None = None, overrides: dict | None = None, root: Path = ROOT) -> dict:
    """config.yaml, then the profile's file, then `overrides` (as Snakemake applies --config last); `root` is the
    repository whose config/ is read."""
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    name = (overrides or {}).get("profile") or profile or cfg["profile"]
    cfg = merge(cfg, yaml.safe_load(profile_file(name, root).read_text()) or {})
    cfg = merge(cfg, overrides or {})
    cfg["profile"] = name
    check(cfg)
    return cfg


def check(cfg: dict) -> None:
    """Schema validation, then the checks a schema cannot express; raises ConfigError."""
    import jsonschema  # imported here: the Snakefile validates with Snakemake's own `validate`

    import datasets
    import methods
    from datasets import images
    from datasets.settings import Setting

    try:
        jsonschema.validate(cfg, yaml.safe_load(SCHEMA.read_text()))
    except jsonschema.ValidationError as err:
        where = ".".join(map(str, err.absolute_path)) or "(top level)"
        raise ConfigError(f"config key {where}: {err.message}") from None
    profile_file(cfg["profile"])
    files = methods.available()
    for name in cfg["methods"]:
        if name not in files:
            raise ConfigError(f"methods.{name}: there is no methods/{name}.py; methods with a file: "
                              f"{', '.join(files)}")
    checked_images = set()
    for exp_name, exp in cfg["experiments"].items():
        where = f"experiments.{exp_name}"
        for name in exp["datasets"]:
            if name not in datasets.names():
                raise ConfigError(f"{where}.datasets: unknown dataset {name!r}; valid datasets: "
                                  f"{', '.join(datasets.names())}")
            if datasets.is_image(name) and name not in checked_images:  # the files, before any job runs
                checked_images.add(name)
                try:
                    images.check(name, cfg["images"]["paths"].get(name))
                except ValueError as err:
                    raise ConfigError(f"{where}.datasets: {err}") from None
        for variant in ([] if exp["methods"] == "all" else exp["methods"]):
            name, preset = split_variant(variant)
            if preset is not None and preset not in cfg.get("presets", {}):
                raise ConfigError(f"{where}.methods: {variant!r} names unknown preset {preset!r}; valid presets "
                                  f"(entries under `presets:`): {', '.join(cfg.get('presets', {})) or 'none'}")
            if name not in cfg["methods"]:
                raise ConfigError(f"{where}.methods: unknown method {name!r}; valid methods (entries under "
                                  f"`methods:` in config/config.yaml): {', '.join(cfg['methods'])}")
        for text in exp["settings"]:
            try:
                setting = Setting.parse(text)
                for name in exp["datasets"]:
                    setting.check(images.get(name) if datasets.is_image(name) else datasets.get(name))
            except ValueError as err:
                raise ConfigError(f"{where}.settings: {err}") from None


@dataclasses.dataclass(frozen=True, order=True)
class Run:
    dataset: str
    setting: str
    method: str
    seed: int

    @property
    def path(self) -> str:
        """The run's folder below results/<profile>/runs/ (SPEC §5)."""
        return f"{self.dataset}/{self.setting}/{self.method}/seed{self.seed}"


def experiment_methods(cfg: dict, exp: dict) -> list[str]:
    return list(cfg["methods"]) if exp["methods"] == "all" else list(exp["methods"])


def runs(cfg: dict) -> list[Run]:
    """Every (dataset, setting, method, seed) the profile asks for, each once, in a stable order; an experiment's
    own `seeds:` replaces the profile's."""
    from datasets.settings import Setting

    found = {Run(d, str(Setting.parse(s)), m, k)
             for exp in cfg["experiments"].values()
             for d in exp["datasets"] for s in exp["settings"] for m in experiment_methods(cfg, exp)
             for k in range(exp.get("seeds", cfg["seeds"]))}
    return sorted(found)


def split_variant(method: str) -> tuple[str, str | None]:
    """`joint_w@released_code` -> ("joint_w", "released_code"); `joint_w` -> ("joint_w", None)."""
    name, _, preset = method.partition("@")
    return name, preset or None


def hparams(cfg: dict, method: str, dataset: str | None = None) -> dict:
    """The flat hyper-parameters of `method`: the shared sections, then the method's own entry over them, then, on
    an image `dataset`, the `images: hparams:` overrides (and the image evaluation's sizes), then, for a variant
    `name@preset`, the preset's `all:` entries, its `by_dataset:` entries for `dataset` and its entries for
    `name`."""
    name, preset = split_variant(method)
    if name not in cfg["methods"]:
        raise ConfigError(f"method {name!r} has no entry under `methods:` in config/config.yaml; configured "
                          f"methods: {', '.join(cfg['methods'])}")
    hp = {}
    for section in SHARED_SECTIONS:
        hp.update(cfg[section])
    hp.update(cfg["methods"][name] or {})
    if dataset is not None and dataset in IMAGE_DATASETS:
        hp.update(cfg["images"]["hparams"])
        hp.update(eval_samples=cfg["images"]["eval_samples"], ood_negatives=cfg["images"]["ood_negatives"])
    if preset is not None:
        overrides = cfg.get("presets", {}).get(preset)
        if overrides is None:
            raise ConfigError(f"unknown preset {preset!r}; valid presets: {', '.join(cfg.get('presets', {}))}")
        hp.update(overrides.get("all") or {})
        hp.update((overrides.get("by_dataset") or {}).get(dataset) or {})
        hp.update(overrides.get(name) or {})
    return hp


def digest(obj) -> str:
    """A short stable hash of a JSON-able object (the config hash stored with every result)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]
