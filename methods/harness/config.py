"""The suite's configuration: config/config.yaml, then a profile, then command-line overrides, resolved once,
validated once and expanded into runs.

The Snakefile resolves it (`resolve`) and writes it to results/<profile>/config.yaml (`write`); every step of the
DAG reads that file (`read`), so aggregation, tables, figures and the claims report see exactly the runs the DAG
trained. `load(profile)` resolves a profile the same way for use by hand.

Values given as strings on the command line are converted, and every entry checked, by methods/harness/keys.py.

A run's hyper-parameters (`hparams`): the shared sections (SHARED_SECTIONS), then the method's declared defaults
(`methods.get(name).defaults()`), then its entry under `methods:`, then on an image dataset `images: hparams:`,
then for a variant `name@preset` the preset's `all:`, `by_dataset: <dataset>:` and `<name>:` entries. The valid
keys of a method's entry (and of a preset's entry for it) are the shared sections' keys and the method's declared
parameters. Only what changes a run's numbers is hashed (`config_hash`): everything but RUNTIME.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
from pathlib import Path

import yaml

import datasets
from methods.harness.keys import (ROOT, SHARED_SECTIONS, ConfigError, all_keys, check_entry, defaults, describe,
                                  normalise, schema, valid_keys)

RUNTIME = ("threads", "device", "checkpoint_every", "eval_every", "stack", "stack_by", "curves")  # how a run is run, not what it computes: a
# change to these neither invalidates a checkpoint nor reruns a job (not in `config_hash`)
RESOLVED_HEADER = ("# The configuration a DAG of this suite ran with: config/config.yaml, then config/profiles/"
                   "<profile>.yaml, then --config,\n# resolved and validated by the Snakefile "
                   "(methods/harness/config.py). Every step reads it: --config <this file>.\n")


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


def profile_files(name: str, root: Path = ROOT, within: tuple = ()) -> list[Path]:
    """A profile's file, after the files of the profile it `extends:` (the `full` profile extends `default`)."""
    if name in within:
        raise ConfigError(f"profile {name!r} extends itself (through {' → '.join(within)}); remove one `extends:`")
    path = profile_file(name, root)
    parent = (yaml.safe_load(path.read_text()) or {}).get("extends")
    return [*(profile_files(parent, root, (*within, name)) if parent else []), path]


def load(profile: str | None = None, overrides: dict | None = None, root: Path = ROOT, validate: bool = True,
         local: bool = True) -> dict:
    """config.yaml, then the profile's file, then `overrides` (as Snakemake applies --config last), resolved;
    `root` is the repository whose config/ is read; `validate=False` skips the checks (e.g. data paths); `local`:
    the jobs run on this machine (`check`)."""
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    name = (overrides or {}).get("profile") or profile or cfg["profile"]
    for path in profile_files(name, root):
        cfg = merge(cfg, yaml.safe_load(path.read_text()) or {})
    cfg = merge(cfg, overrides or {})
    cfg["profile"] = name
    return resolve(cfg, validate, local, root)


def resolve(cfg: dict, validate: bool = True, local: bool = True, root: Path = ROOT) -> dict:
    """The merged configuration with its values normalised, a `sweep:` expanded (`expand_sweep`), then (unless
    `validate` is False) checked, for jobs on this machine unless `local` is False (`check`); `root` is the
    repository whose config/ holds the profile."""
    cfg = normalise(expand_sweep(cfg))
    if validate:
        check(cfg, local, root)
    return cfg


def read(path) -> dict:
    """A resolved configuration written by `write` (results/<profile>/config.yaml), as written."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: the DAG writes it when it runs (snakemake --config "
                                f"profile=<name>); or resolve a profile with --profile") from None


def write(cfg: dict, path) -> bool:
    """Write the resolved configuration to `path` unless the file already holds it (so its modification time
    changes only with its content); returns whether it wrote."""
    from methods.harness.io import write_text

    text = RESOLVED_HEADER + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, width=120)
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    write_text(path, text)
    return True


SWEEP_EXPERIMENT = "sweep"


def sweep_points(sweep: dict) -> dict[str, dict]:
    """{preset name: overrides} of a sweep's points, in order. An axis of `grid:` is a list of values of the key it
    is named after (`beta2: [0.999, 0.9]`) or of dicts of keys set together (`lr: [{lr_implicit: 1e-3,
    lr_explicit: 1e-3}, …]`). `mode: grid` (the default) takes every combination of the axes; a point's name is `s`
    and its index on each axis (`s010`). `mode: axes` varies one axis at a time away from `base:`: the base is
    `s00…0`, and value i of axis j is the point with i + 1 at place j. Every point starts from `base:` (if any)."""
    axes = list(sweep["grid"].items())
    if any(len(values) > 9 for _, values in axes):
        raise ConfigError("sweep.grid: at most 9 values per axis (a point's name has one digit per axis)")
    base = dict(sweep.get("base") or {})

    def point(index):
        overrides = dict(base)
        for (axis, values), i in zip(axes, index):
            if i is not None:
                overrides.update(values[i] if isinstance(values[i], dict) else {axis: values[i]})
        return overrides

    if sweep.get("mode", "grid") == "grid":
        return {"s" + "".join(map(str, index)): point(index)
                for index in itertools.product(*(range(len(values)) for _, values in axes))}
    points = {"s" + "0" * len(axes): point([None] * len(axes))}
    for j, (_, values) in enumerate(axes):
        for i in range(len(values)):
            points[axis_point(j, i, len(axes))] = point([i if k == j else None for k in range(len(axes))])
    return points


def axis_point(j: int, i: int, n_axes: int) -> str:
    """`mode: axes`: the name of value i of axis j (the base is `s00…0`; this point has i + 1 at place j)."""
    return "s" + "".join(str(i + 1) if k == j else "0" for k in range(n_axes))


def expand_sweep(cfg: dict) -> dict:
    """A configuration with a `sweep:` section (config/profiles/sweep.yaml; evaluation/sweep.py) gets one preset per
    grid point and the experiment `sweep`: its methods at every point (`wgan_gp@s010`), on its datasets, clean."""
    sweep = cfg.get("sweep")
    if not isinstance(sweep, dict) or not all(isinstance(sweep.get(k), list) for k in ("methods", "datasets")) \
            or not isinstance(sweep.get("grid"), dict):
        return cfg  # no sweep, or one that the schema check will explain
    cfg = copy.deepcopy(cfg)
    points = sweep_points(sweep)
    for over in points.values():
        check_entry(over, all_keys(), "sweep.grid", "a sweep axis (any method's key)")
    cfg["presets"] = {**(cfg.get("presets") or {}), **{name: {"all": over} for name, over in points.items()}}
    only = sweep_only(sweep)
    cfg["experiments"] = {SWEEP_EXPERIMENT: {"datasets": list(sweep["datasets"]), "settings": ["clean"],
                                             "methods": [f"{m}@{p}" for m in sweep["methods"] for p in points
                                                         if m in only.get(p, (m,))]}}
    return cfg


def sweep_only(sweep: dict) -> dict[str, list[str]]:
    """{point: methods that run it} for the points of `mode: axes` whose axis `only:` restricts (an axis a method
    does not read would rerun its base under another name); the other points run every method."""
    only = sweep.get("only") or {}
    unknown = sorted(set(only) - set(sweep["grid"]))
    if unknown or sweep.get("mode", "grid") != "axes" and only:
        raise ConfigError(f"sweep.only: {', '.join(unknown) or 'only'} names no axis of a `mode: axes` sweep; "
                          f"its axes: {', '.join(sweep['grid'])}")
    found = {}
    for j, (axis, values) in enumerate(sweep["grid"].items()):
        if axis in only:
            for i in range(len(values)):
                found[axis_point(j, i, len(sweep["grid"]))] = list(only[axis])
    return found


# --- checks -------------------------------------------------------------------------------------------------------
def check(cfg: dict, local: bool = True, root: Path = ROOT) -> None:
    """Schema validation, then the checks a schema cannot express; raises ConfigError. `local`: the jobs run on this
    machine, so every run's device must exist here (methods/harness/devices.py); False for a cluster executor.
    `root`: the repository whose config/ holds the profile."""
    import jsonschema

    import methods
    from datasets import images
    from datasets.settings import Setting
    from methods.harness import devices

    try:
        jsonschema.validate(cfg, schema())
    except jsonschema.ValidationError as err:
        where = ".".join(map(str, err.absolute_path)) or "(top level)"
        raise ConfigError(f"config key {where}: {describe(err)}") from None
    profile_file(cfg["profile"], root)
    files = methods.available()
    for name, entry in cfg["methods"].items():
        if name not in files:
            raise ConfigError(f"methods.{name}: there is no methods/{name}.py; methods with a file: "
                              f"{', '.join(files)}")
        check_entry(entry, valid_keys(name), f"methods.{name}", name)
    check_entry(cfg["images"]["hparams"], all_keys(), "images.hparams", "an image override (any method's)")
    for preset, entries in (cfg.get("presets") or {}).items():
        for part, entry in (entries or {}).items():
            where = f"presets.{preset}.{part}"
            if part == "by_dataset":
                for d, e in (entry or {}).items():
                    if d not in datasets.names():
                        raise ConfigError(f"{where}: unknown dataset {d!r}; valid datasets: "
                                          f"{', '.join(datasets.names())}")
                    check_entry(e, all_keys(), f"{where}.{d}", "a preset entry (any method's)")
            elif part == "all":
                check_entry(entry, all_keys(), where, "a preset entry (any method's)")
            elif part not in cfg["methods"]:
                raise ConfigError(f"{where}: {part!r} is neither `all`, `by_dataset` nor a method under `methods:` "
                                  f"({', '.join(cfg['methods'])})")
            else:
                check_entry(entry, valid_keys(part), where, part)
    checked_images = set()
    for exp_name, exp in cfg["experiments"].items():
        where = f"experiments.{exp_name}"
        for name in exp["datasets"]:
            if name not in datasets.names():
                raise ConfigError(f"{where}.datasets: unknown dataset {name!r}; valid datasets: "
                                  f"{', '.join(datasets.names())}")
            if datasets.track(name) == "image" and name not in checked_images:  # the files, before any job runs
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
                    setting.check(datasets.dataset(name))
            except ValueError as err:
                raise ConfigError(f"{where}.settings: {err}") from None
    devices.check(cfg, local)


# --- runs and their hyper-parameters ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, order=True)
class Run:
    dataset: str
    setting: str
    method: str
    seed: int

    @property
    def path(self) -> str:
        """The run's folder below results/<profile>/runs/ (README, "What you get")."""
        return f"{self.dataset}/{self.setting}/{self.method}/seed{self.seed}"


@dataclasses.dataclass(frozen=True)
class Job:
    """A training job: runs of one method with the same hyper-parameters, trained together (a stack where the
    method stacks; docs/performance.md, "Stacked runs"). `name` is its file name below results/<profile>/jobs/."""
    name: str
    method: str
    runs: tuple[Run, ...]


STACK_KEYS = {"seeds": ("dataset", "setting"), "curve": ("dataset",), "method": ()}  # what the runs of a job share


def jobs(cfg: dict, skip: set | frozenset = frozenset()) -> list[Job]:
    """The training jobs of the configuration: each 2-D run joins the runs sharing its method, hyper-parameters and
    `training: stack_by` key, at most `training: stack` per job (trained as one stack where the method stacks with
    these hyper-parameters, one after the other in the job's process otherwise); every image run is a job of its
    own, named by its run folder. Runs in `skip` (held by published parts: evaluation/parts.py) get no job."""
    size, by = cfg["training"]["stack"], cfg["training"]["stack_by"]
    groups: dict[tuple, list[Run]] = {}
    for run in (r for r in runs(cfg) if r not in skip):
        hp = hparams(cfg, run.method, run.dataset)
        if size > 1 and datasets.track(run.dataset) == "2d":
            shared = tuple(getattr(run, key) for key in STACK_KEYS[by])
            key = (run.method, digest({k: v for k, v in hp.items() if k not in RUNTIME})[:8], *shared)
        else:
            key = (run,)
        groups.setdefault(key, []).append(run)
    out = []
    for key, members in groups.items():
        if len(key) == 1:
            out.append(Job(members[0].path, members[0].method, tuple(members)))
            continue
        for i in range(0, len(members), size):
            chunk = tuple(members[i:i + size])
            name = "/".join([f"group_{key[0]}", *key[2:], f"{key[1]}-{i // size}"])
            out.append(Job(name, key[0], chunk))
    return out


def experiment_methods(cfg: dict, exp: dict) -> list[str]:
    return list(cfg["methods"]) if exp["methods"] == "all" else list(exp["methods"])


def first_seed(cfg: dict) -> int:
    """The profile's first seed (`first_seed`; 0 unless a profile sets it): runs use it and the next ones."""
    return cfg.get("first_seed", 0)


def runs(cfg: dict) -> list[Run]:
    """Every (dataset, setting, method, seed) the configuration asks for, each once, in a stable order: seeds
    `first_seed`, `first_seed` + 1, … (0, 1, … unless a profile sets it); an experiment's own `seeds:` replaces the
    profile's count."""
    from datasets.settings import Setting

    found = {Run(d, str(Setting.parse(s)), m, k)
             for exp in cfg["experiments"].values()
             for d in exp["datasets"] for s in exp["settings"] for m in experiment_methods(cfg, exp)
             for k in range(first_seed(cfg), first_seed(cfg) + exp.get("seeds", cfg["seeds"]))}
    return sorted(found)


def split_variant(method: str) -> tuple[str, str | None]:
    """`joint_w@released_code` -> ("joint_w", "released_code"); `joint_w` -> ("joint_w", None)."""
    name, _, preset = method.partition("@")
    return name, preset or None


def track_hparams(cfg: dict, dataset: str | None = None) -> dict:
    """The shared sections, and on an image `dataset` the `images: hparams:` overrides and the image evaluation's
    sizes: what every run on `dataset` starts from, and what its references are evaluated with."""
    hp = {}
    for section in SHARED_SECTIONS:
        hp.update(cfg[section])
    hp.update(image_hparams(cfg, dataset))
    return hp


def image_hparams(cfg: dict, dataset: str | None) -> dict:
    """On an image dataset, `images: hparams:` and the image evaluation's sizes; {} in 2-D."""
    if dataset is None or datasets.track(dataset) != "image":
        return {}
    return {**cfg["images"]["hparams"], "eval_samples": cfg["images"]["eval_samples"],
            "ood_negatives": cfg["images"]["ood_negatives"]}


def hparams(cfg: dict, method: str, dataset: str | None = None) -> dict:
    """The flat hyper-parameters of `method` on `dataset`: the shared sections, then the method's declared
    defaults, then its entry under `methods:`, then, on an image `dataset`, the `images: hparams:` overrides (and
    the image evaluation's sizes), then, for a variant `name@preset`, the preset's `all:` entries, its
    `by_dataset:` entries for `dataset` and its entries for `name`."""
    name, preset = split_variant(method)
    if name not in cfg["methods"]:
        raise ConfigError(f"method {name!r} has no entry under `methods:` in config/config.yaml; configured "
                          f"methods: {', '.join(cfg['methods'])}")
    hp = track_hparams(cfg)
    hp.update(defaults(name))
    hp.update(cfg["methods"][name] or {})
    hp.update(image_hparams(cfg, dataset))
    if preset is not None:
        overrides = cfg.get("presets", {}).get(preset)
        if overrides is None:
            raise ConfigError(f"unknown preset {preset!r}; valid presets: {', '.join(cfg.get('presets', {}))}")
        hp.update(overrides.get("all") or {})
        hp.update((overrides.get("by_dataset") or {}).get(dataset) or {})
        hp.update(overrides.get(name) or {})
    return hp


def digest(obj) -> str:
    """A short stable hash of a JSON-able object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def config_hash(hp: dict, dataset: str, setting: str, method: str, seed: int) -> str:
    """The hash stored with a run's checkpoint and results: its hyper-parameters without RUNTIME, its data
    (dataset, setting) and seed. A checkpoint is resumed only under the same hash."""
    return digest({"hparams": {k: v for k, v in hp.items() if k not in RUNTIME}, "dataset": dataset,
                   "setting": setting, "method": method, "seed": int(seed)})


# --- command lines ------------------------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    """`--config FILE` (the resolved configuration a DAG ran with), `--dir DIR` (its results folder; default the
    file's folder) and `--profile P` (short for `--config results/P/config.yaml`), for the steps that read a DAG's
    results: aggregate, references, tables, figures, claims."""
    parser.add_argument("--config", default=None,
                        help="the resolved configuration the DAG ran with (results/<profile>/config.yaml)")
    parser.add_argument("--dir", default=None, help="the results folder (default: the folder of --config)")
    parser.add_argument("--profile", default=None, help="short for --config results/<profile>/config.yaml")


def from_arguments(args) -> tuple[dict, Path]:
    """(configuration, results folder) from the arguments of `add_arguments`."""
    if args.config is None and args.profile is None:
        raise SystemExit("error: give --config results/<profile>/config.yaml (or --profile <profile>)")
    path = Path(args.config) if args.config else ROOT / "results" / args.profile / "config.yaml"
    try:
        cfg = read(path)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    return cfg, Path(args.dir) if args.dir else path.parent
