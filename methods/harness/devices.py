"""Whether the device a run asks for exists where it trains: `device: cuda[:k]` (config `training:`, `images:
hparams:`, a method's or a preset's entry) needs torch to see CUDA device k on the machine that runs the job.

The DAG checks every run's device before any job starts when its jobs run on its own machine (`check`, called by
methods/harness/config.py `check` with `local`; the Snakefile asks `local_executor` whether they do). A cluster
executor's jobs run on its nodes, which this machine cannot see, so there nothing is refused. The runner checks a
run's device again before it trains (`check_run` when it resolves the configuration, `refusal` for given values).
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

from methods.harness.keys import ConfigError

FIX = "set it to cpu, or run the jobs where the GPU is (a cluster executor: snakemake --profile profiles/slurm)"
ANY_KEY = "device (config training.device, images.hparams.device, or a method's or preset's entry)"


def unavailable(device: str) -> str | None:
    """Why torch on this machine cannot use `device` ("cpu", "cuda" or "cuda:k"); None when it can."""
    if not str(device).startswith("cuda"):
        return None
    import torch  # only for a CUDA device: a CPU configuration never pays for the import

    index = int(str(device).partition(":")[2] or 0)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        return "torch sees no CUDA device on this machine"
    if index >= count:
        return (f"torch sees {count} CUDA device{'s' * (count > 1)} on this machine (cuda:0"
                f"{f' to cuda:{count - 1}' if count > 1 else ''}), so there is no cuda:{index}")
    return None


def refusal(device: str, key: str = ANY_KEY) -> str | None:
    """The message that refuses `device` set at `key`, or None when this machine has it."""
    why = unavailable(device)
    return None if why is None else f"{key}: {device!r}, but {why}; {FIX}"


def device_key(cfg: dict, method: str, dataset: str) -> str:
    """The configuration key that sets the device of `method`'s runs on `dataset`: the last of the places that
    `hparams` (methods/harness/config.py) merges, in its order, that holds one."""
    import datasets
    from methods.harness.config import split_variant

    name, preset = split_variant(method)
    entries = [("training", cfg["training"]), (f"methods.{name}", cfg["methods"].get(name))]
    if datasets.track(dataset) == "image":
        entries.append(("images.hparams", cfg["images"]["hparams"]))
    if preset is not None:
        p = (cfg.get("presets") or {}).get(preset) or {}
        entries += [(f"presets.{preset}.all", p.get("all")),
                    (f"presets.{preset}.by_dataset.{dataset}", (p.get("by_dataset") or {}).get(dataset)),
                    (f"presets.{preset}.{name}", p.get(name))]
    return [f"{where}.device" for where, entry in entries if "device" in (entry or {})][-1]


def check_run(cfg: dict, method: str, dataset: str) -> None:
    """Refuse (ConfigError) a device that `method`'s runs on `dataset` would ask for and this machine lacks."""
    from methods.harness.config import hparams

    device = hparams(cfg, method, dataset)["device"]
    message = refusal(device, device_key(cfg, method, dataset))
    if message is not None:
        raise ConfigError(message)


def check(cfg: dict, local: bool) -> None:
    """Where the jobs run on this machine (`local`), refuse a device that some run asks for and this machine lacks;
    a cluster executor's nodes are checked by the runner, on the node."""
    from methods.harness.config import runs

    if local:
        for method, dataset in dict.fromkeys((run.method, run.dataset) for run in runs(cfg)):
            check_run(cfg, method, dataset)


def local_executor(argv: list[str]) -> bool:
    """Whether a Snakemake command line (its `sys.argv`) runs the jobs on this machine: the executor it asks for
    (`--executor`, or a profile's `executor:`; `local` by default) says so itself (`local_exec`; SLURM's does not).
    Snakemake picks its executor only after reading the Snakefile, so Snakemake's own parser reads the command line
    again here; a process that is not Snakemake's command line (its Python API) counts as local."""
    from snakemake.cli import parse_args
    from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

    if "snakemake" not in (Path(argv[0]).name, Path(argv[0]).parent.name):  # bin/snakemake, snakemake/__main__.py
        return True
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # its "Using profile …" line, printed once already
            executor = parse_args(argv[1:])[1].executor or "local"
        return ExecutorPluginRegistry().get_plugin(executor).common_settings.local_exec
    except (SystemExit, Exception):  # a command line that Snakemake has already accepted or explained itself
        return True


def machine(device: str = "cpu") -> str:
    """Where a run trains, in words, for its record: the GPU's name for a CUDA device, else the CPU's model and
    how many cores this process may use ("Intel(R) Xeon(R) Processor, 2 cores, x86_64"). Float32 training is not
    bitwise portable, so a rerun on another machine is a new draw and the published numbers say where they were made."""
    import os
    import platform

    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(int(str(device).partition(":")[2] or 0))
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, {platform.machine()}"
