"""The one training runner for every method.

    python -m methods.harness.train --data D.npz --method NAME --run-dir DIR
        [--config results/<profile>/config.yaml | --profile P | --hparams JSON] [--threads T] [--classifier C.pt]

Reads the stored training set, builds the method from its hyper-parameters and a seed derived from
(dataset, setting, method, seed index), and loops: one `train_step` per iteration; every `eval_every` iterations a
learning-curve row (losses and the paper's metrics: HSR, modes covered and MMD of `curve_samples` generated
points, KLD, JSD and AUC of an energy; on images, given the DAG's classifier, fid_classifier and the OOD AUCs:
evaluation.evaluate's curve functions; of the weight averages when hp `ema` > 0, methods/core/base.py); every
`checkpoint_every` iterations and at the end a checkpoint (networks, optimisers, iteration, curve and every
random-number-generator state), from which a killed job resumes. Writes, in DIR (methods/harness/runfiles.py):
checkpoint.pt, samples.npy, curve.csv, train.json (status, iterations, timings, hyper-parameters, config hash) and
density.npz (2-D energy models: E on a coarse grid, for the figures). The final metrics are the next step's
(evaluation/evaluate.py, rule `evaluate`): a change to a metric re-evaluates the stored runs without retraining
them.

Hyper-parameters: from the resolved configuration the DAG writes and runs with (`--config`), from a profile
resolved here exactly as the DAG resolves it (`--profile`), or as JSON (`--hparams`). A checkpoint is resumed when
its config hash matches, and the hash covers only what changes the run's numbers (the method's hyper-parameters,
iterations, data and seed), not how it is run (threads, device, checkpoint and curve cadence:
methods/harness/config.py, RUNTIME).

Non-finite losses (checked every iteration) or parameters (checked before every learning-curve row and checkpoint)
stop the run with status "diverged", the iteration and the culprits recorded; its outputs are still written, so
the DAG goes on and the tables count the seed as diverged.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import datasets
import methods
from datasets.settings import Setting, derive_seed
from methods.core.stack import Stack, StackedBatches
from methods.harness import config as suite_config
from methods.harness import devices
from methods.harness.code import training_version
from methods.harness.io import atomic_path, git_commit, write_json
from methods.harness.progress import Progress
from methods.harness.runfiles import (CHECKPOINT, CURVE, DENSITY, SAMPLES, STATUS, load_checkpoint,
                                      load_training_set, save_checkpoint, track, training_tensors, write_curve,
                                      write_samples)

GREY_LEVEL = 2 / 255  # one grey level of a uint8 image mapped to [−1, 1] (datasets.images.to_float): the std of
                      # the images' dequantisation noise (`Batches`)


class Batches:
    """Mini-batches drawn uniformly with replacement from the training set by a seeded numpy generator.

    `dequantize` > 0 (images): each drawn batch gets fresh Gaussian noise of that standard deviation. Quantised
    pixels put mass on exact values (about 80% of MNIST's pixels are exactly −1), where a density, and with it a
    Stein discrepancy, can be made arbitrarily large: a Stein critic f_j = a·tanh(k(x_j + 1)) raises E[div f]
    without bound in k. Likelihood models of images dequantise with uniform noise of one grey level (Theis, van den
    Oord & Bethge 2016), which bounds that family, but the dequantised density then still jumps at the edges of
    each grey level's box, and a critic concentrated at an edge still raises the L2-penalised objective without
    bound. Gaussian noise makes the data density smooth, so by Stein's identity the penalised supremum is
    E_q‖s_p − s_q‖²/(4λ), finite for every critic (E‖s_q‖² ≤ d/σ²). Every term that sees data (energies, Stein
    critics, GAN critics) sees the dequantised batch; metrics compare against the stored images."""

    def __init__(self, x: torch.Tensor, batch_size: int, rng: np.random.Generator, dequantize: float = 0.0):
        self.x, self.batch_size, self.rng, self.dequantize = x, batch_size, rng, dequantize

    def batch(self, n: int | None = None) -> torch.Tensor:
        x = self.x[torch.from_numpy(self.rng.integers(len(self.x), size=n or self.batch_size))]
        if self.dequantize > 0:
            noise = self.rng.standard_normal(x.shape, dtype=np.float32)
            x = x + torch.from_numpy(noise).to(x.device).mul_(self.dequantize)
        return x


def training_batches(data: dict, hp: dict, rng: np.random.Generator) -> Batches:
    """The mini-batch source of a run on its stored training set (datasets.make): 2-D points as stored; images
    (stored as uint8) scaled to [−1, 1] and dequantised by Gaussian noise of one grey level (see `Batches`)."""
    return Batches(training_tensors(data), hp["batch_size"], rng, GREY_LEVEL if track(data) == "image" else 0.0)


def non_finite_parameters(method, k: int | None = None) -> list[str]:
    """Names of the method's parameters holding a NaN or an infinity (of run k, for a stack)."""
    return [name for name, p in method.named_parameters() if not torch.isfinite(p if k is None else p[k]).all()]


def curve_row(it: int, losses: dict, metrics: dict) -> dict:
    """One learning-curve row: the iteration, its losses and the values of its metrics ({name: {value, params}})."""
    return {"iteration": it, **{f"loss_{k}": float(v) for k, v in losses.items()},
            **{k: v["value"] for k, v in metrics.items()}}


def curve_hooks(hp: dict):
    """The module that scores a run's learning-curve rows and draws its density grid, named by `training: curves:`
    (config/config.yaml; evaluation.evaluate): its `curve_evaluator(data, hp, seed, classifier)` gives
    `f(method, iteration) -> {metric: {value, params}}` or None, its `density_grid(method, clean, ds)` the energy on
    a grid for the figures. Training names it rather than importing it, so the evaluation can change without this
    runner knowing; None (`curves: null`): losses only."""
    name = hp.get("curves")  # absent from configurations resolved before it existed
    if not name:
        return None
    try:
        hooks = importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise ValueError(f"training.curves: {name!r} is not an importable module ({err}); set it to "
                         f"evaluation.evaluate, or null for curves of losses only") from None
    missing = [f for f in ("curve_evaluator", "density_grid") if not hasattr(hooks, f)]
    if missing:
        raise ValueError(f"training.curves: module {name!r} has no {' or '.join(missing)}; set it to "
                         f"evaluation.evaluate, or null for curves of losses only")
    return hooks


def n_samples(data: dict, hp: dict) -> int:
    """How many samples the final evaluation scores: the dataset's `n_eval` points in 2-D, `eval_samples` images."""
    return hp["eval_samples"] if track(data) == "image" else datasets.get(str(data["dataset"])).n_eval


class Run:
    """One run of a training job: its training set, identity, seeds, mini-batch source, checkpoint and outcome."""

    def __init__(self, data_path, method_name: str, hp: dict, run_dir, seed: int | None, classifier):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.data = load_training_set(data_path)
        self.ident = {"dataset": str(self.data["dataset"]), "setting": str(self.data["setting"]),
                      "method": method_name, "seed": int(self.data["seed"] if seed is None else seed)}
        self.seed_value = derive_seed(self.ident["dataset"], self.ident["setting"], method_name, self.ident["seed"])
        self.rng = np.random.default_rng(self.seed_value)
        self.batches = training_batches(self.data, hp, self.rng)
        self.shape = tuple(self.batches.x.shape[1:])
        self.meta = {**self.ident, "hparams": hp, "data_shape": list(self.shape), "seed_value": self.seed_value,
                     "config_hash": suite_config.config_hash(hp, **self.ident)}
        self.checkpoint = self.run_dir / CHECKPOINT
        self.start, self.curve, self.state, self.torch_rng, self.cuda_rng = 0, [], None, None, None
        self.hooks = curve_hooks(hp)
        self.evaluate_curve = self.hooks.curve_evaluator(self.data, hp, self.ident["seed"], classifier) \
            if self.hooks else None
        self.curve_params = None  # {metric: params} of the curve's metrics, from the first row this session logs
        self.status, self.failure, self.train_seconds, self.stack = "ok", None, 0.0, 1

    def resume(self, device: torch.device) -> None:
        """Take up the run's checkpoint if its config hash matches (its model and optimiser state, curve and random
        streams)."""
        if not self.checkpoint.exists():
            return
        ckpt = load_checkpoint(self.checkpoint)
        if ckpt["meta"].get("config_hash") != self.meta["config_hash"]:
            print(f"{self.checkpoint} was written with other hyper-parameters or data (config hash "
                  f"{ckpt['meta'].get('config_hash')}, this run's {self.meta['config_hash']}); starting this run "
                  f"afresh", file=sys.stderr)
            return
        self.state, self.torch_rng = ckpt["method"], ckpt["torch_rng"]
        self.cuda_rng = ckpt.get("cuda_rng") if device.type == "cuda" else None
        self.rng.bit_generator.state = ckpt["numpy_rng"]
        self.start, self.curve = ckpt["iteration"], ckpt["curve"]
        print(f"resuming {self.run_dir} from iteration {self.start}", file=sys.stderr)

    def diverge(self, it: int, losses: list[str], parameters: list[str]) -> None:
        self.status, self.failure = "diverged", {"iteration": it, "losses": losses, "parameters": parameters}
        print(f"{self.run_dir}: run diverged at iteration {it}: non-finite " +
              (f"loss {', '.join(losses)}" if losses else f"parameters {', '.join(parameters)}"), file=sys.stderr)


def train(data_path, method_name: str, hp: dict, run_dir, seed: int | None = None, threads: int = 1,
          progress: bool | None = None, classifier=None) -> dict:
    """Train one run to completion (resuming from run_dir/checkpoint.pt if its config hash matches); returns its
    status record (train.json). `classifier`: the image track's feature classifier (rule classifier), for the
    image learning-curve metrics."""
    return train_runs([data_path], method_name, hp, [run_dir], [seed], threads, progress, classifier)[0]


def train_runs(data_paths: list, method_name: str, hp: dict, run_dirs: list, seeds: list | None = None,
               threads: int = 1, progress: bool | None = None, classifier=None, stack: bool = True) -> list[dict]:
    """Train the runs of one job (one method, one hyper-parameter set, each run its own training set and seed) to
    completion; returns their status records. Runs at the same iteration train as one stack of K runs
    (methods/core/stack.py) where the method stacks with these hyper-parameters and `stack` is true; otherwise,
    and always for a single run, one after the other. Each run writes its own folder exactly as when trained
    alone, its checkpoint included (an ordinary run's: a stacked run resumes alone and vice versa)."""
    torch.set_num_threads(threads)
    refused = devices.refusal(hp["device"])  # before torch meets the device: one message, not its traceback
    if refused is not None:
        raise ValueError(refused)
    device = torch.device(hp["device"])
    if device.type != "cpu":  # every tensor a method creates (noise, batches, optimiser slots) lives there. Not set
        torch.set_default_device(device)  # for the CPU: its function mode would add overhead to every operation
    seeds = seeds or [None] * len(data_paths)
    runs = [Run(d, method_name, hp, r, s, classifier) for d, r, s in zip(data_paths, run_dirs, seeds, strict=True)]
    for run in runs:
        run.resume(device)
    cls = methods.get(method_name)
    stacks = stack and cls.stacks(hp) and all(len(run.shape) == 1 for run in runs)
    for start in sorted({run.start for run in runs}):
        group = [run for run in runs if run.start == start]
        if stacks and len(runs) > 1:  # in a job of several runs every run trains stacked, so its numbers do not
            # depend on how a killed job's runs split by their checkpoints' iterations
            train_stack(cls, hp, group, progress)
        else:
            for run in group:
                train_alone(cls, hp, run, device, progress)
    return [finish(run, hp, threads) for run in runs]


def train_alone(cls, hp: dict, run: Run, device: torch.device, progress) -> None:
    """One run on its own: the global random streams, seeded by the run."""
    torch.manual_seed(run.seed_value)
    method = cls(hp, run.shape)
    if run.state is not None:
        method.load_checkpoint_state(run.state)
        torch.set_rng_state(run.torch_rng)
        if run.cuda_rng is not None:
            torch.cuda.set_rng_state_all(run.cuda_rng)

    def save(k, it):
        save_checkpoint(run.checkpoint, method.checkpoint_state(), torch.get_rng_state(), it, run.curve, run.rng,
                        run.meta)

    loop(method, [run], hp, progress, views=lambda k: method, save=save)
    run.result = method, torch.get_rng_state()


def train_stack(cls, hp: dict, runs: list[Run], progress) -> None:
    """K runs as one stack: each with its own random streams (seeded as it would seed them alone) and data."""
    stack = Stack([run.seed_value for run in runs], hp["device"])
    method = cls(hp, runs[0].shape, stack)
    for k, run in enumerate(runs):
        if run.state is not None:
            method.load_run_state(k, run.state)
            stack.generators[k].set_state(run.torch_rng)
        run.stack = len(runs)
    batches = StackedBatches([run.batches for run in runs])

    def save(k, it):
        save_checkpoint(runs[k].checkpoint, method.run_state(k), stack.generators[k].get_state(), it, runs[k].curve,
                        runs[k].rng, runs[k].meta)

    loop(method, runs, hp, progress, views=method.run_view, save=save, batches=batches)
    for k, run in enumerate(runs):
        run.result = method.run_view(k), stack.generators[k].get_state()


def loop(method, runs: list[Run], hp: dict, progress, views, save, batches=None) -> None:
    """The training loop of one run (`batches` None) or of a stack: one `train_step` per iteration; per run, the
    non-finite check of its losses (every iteration) and parameters (before each curve row and checkpoint), its
    curve rows every `eval_every` iterations, its checkpoint every `checkpoint_every` iterations and at the end. A
    run that diverges stops there (in a stack it is frozen and the others go on)."""
    stacked = batches is not None
    batches = batches if stacked else runs[0].batches
    iterations, start = hp["iterations"], runs[0].start
    active = list(range(len(runs)))
    name = runs[0].ident["method"] + (f" ×{len(runs)}" if stacked else "")
    bar = tqdm(range(start + 1, iterations + 1), initial=start, total=iterations, desc=name,
               disable=not sys.stderr.isatty() if progress is None else not progress, mininterval=1.0)
    where = {f"{run.ident['dataset']}/{run.ident['setting']}" for run in runs}
    seeds = ", ".join(str(run.ident["seed"]) for run in runs)
    label = f"{name} {where.pop() if len(where) == 1 else f'{len(where)} settings'} seed{'s' * (len(runs) > 1)} {seeds}"
    lines = Progress(label, start, iterations) if bar.disable else None  # a log's lines where no bar is drawn
    for it in bar:
        t0 = time.perf_counter()
        method.schedule(it)
        losses = method.train_step(batches)
        method.update_averages(it)
        seconds = (time.perf_counter() - t0) / len(active)
        log_now, save_now = it % hp["eval_every"] == 0 or it == iterations, it % hp["checkpoint_every"] == 0
        for k in list(active):
            run = runs[k]
            run.train_seconds += seconds
            mine = {key: v[k] if stacked and v.dim() > 0 else v for key, v in losses.items()}
            bad = [key for key, v in mine.items() if not math.isfinite(float(v))]
            bad_params = non_finite_parameters(method, k if stacked else None) \
                if not bad and (log_now or save_now) else []
            if bad or bad_params:  # stop before logging or checkpointing anything non-finite
                run.diverge(it, bad, bad_params)
                active.remove(k)
                if stacked:
                    method.freeze_run(k)
                continue
            if log_now:
                with views(k).averaged() as view:
                    found = run.evaluate_curve(view, it) if run.evaluate_curve is not None else {}
                run.curve_params = run.curve_params or {key: v["params"] for key, v in found.items()}
                run.curve.append(curve_row(it, mine, found))
            if save_now or it == iterations:
                save(k, it)
        if not active:
            break
        if log_now:
            bar.set_postfix({k: f"{v:.3g}" for k, v in runs[active[0]].curve[-1].items() if k != "iteration"},
                            refresh=False)
        if lines is not None:
            lines.update(it, runs[active[0]].curve[-1] if runs[active[0]].curve else None)
    bar.close()


def finish(run: Run, hp: dict, threads: int) -> dict:
    """Write the run's samples, curve, density grid and status record (train.json, last) from its trained model."""
    method, torch_rng = run.result
    method.swap_averages()  # from here on the run is its averaged networks (hp `ema`), as the evaluation loads it
    iterations = hp["iterations"]
    if run.curve_params is None and run.evaluate_curve is not None and run.status == "ok":  # resumed after its last
        run.curve_params = {k: v["params"] for k, v in run.evaluate_curve(method, iterations).items()}  # row
    done = iterations - run.start if run.status == "ok" else run.failure["iteration"] - run.start - 1
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.set_rng_state(torch_rng)  # the run's own stream, where it ended (alone or in a stack)
        samples = method.sample(n_samples(run.data, hp)).cpu().numpy() \
            if method.has_generator and run.status == "ok" else np.zeros((0, *run.shape), dtype=np.float32)
    write_samples(run.run_dir / SAMPLES, samples)
    write_curve(run.run_dir / CURVE, run.curve)
    if method.has_energy and run.status == "ok" and track(run.data) == "2d" and run.hooks:  # the density figures
        with atomic_path(run.run_dir / DENSITY) as tmp, open(tmp, "wb") as f:
            np.savez(f, **run.hooks.density_grid(method, run.data["clean"], datasets.get(run.ident["dataset"])))
    record = {**run.ident, "kind": method.kind, "status": run.status, "failure": run.failure,
              "iterations": iterations, "iterations_this_session": done, "resumed_from": run.start,
              "train_seconds_this_session": run.train_seconds, "stack": run.stack,
              "seconds_per_1000_iterations": 1000 * run.train_seconds / done if done > 0 else None,
              "threads": threads, "seed_value": run.seed_value, "config_hash": run.meta["config_hash"],
              "git_commit": git_commit(), "training_code": training_version(),
              "machine": devices.machine(hp["device"]),
              "curve_params": run.curve_params or {}, "hparams": hp}
    write_json(run.run_dir / STATUS, record)  # last: the evaluation reads it, and Snakemake waits for it
    return record


def resolve_hparams(args, data_path) -> dict:
    """The run's hyper-parameters from --hparams, --config (the DAG's resolved configuration) or --profile; the
    training set's dataset decides the 2-D or image values and a preset's per-dataset entries."""
    if args.hparams:
        return json.loads(args.hparams)
    if args.config:
        cfg = suite_config.read(args.config)
    elif args.profile:
        cfg = suite_config.load(args.profile)
    else:
        raise ValueError("give the hyper-parameters: --config results/<profile>/config.yaml (the DAG's resolved "
                         "configuration), --profile NAME or --hparams JSON")
    dataset = str(load_training_set(data_path)["dataset"])
    devices.check_run(cfg, args.method, dataset)  # the message names the key that sets the device
    return suite_config.hparams(cfg, args.method, dataset)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, nargs="+", help="training set(s) .npz written by datasets.make, "
                                                                 "one per run")
    parser.add_argument("--method", required=True, help=f"one of {', '.join(methods.available())} (or name@preset)")
    parser.add_argument("--run-dir", required=True, nargs="+", help="folder(s) for checkpoint, samples, curve, "
                                                                    "train.json, one per run (as --data)")
    parser.add_argument("--config", default=None, help="the resolved configuration (results/<profile>/config.yaml)")
    parser.add_argument("--profile", default=None, help="resolve the hyper-parameters from this profile")
    parser.add_argument("--hparams", default=None, help="hyper-parameters as JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: training.threads)")
    parser.add_argument("--job-record", default=None, help="write the job's record here (JSON: its runs and their "
                                                           "status; the DAG's jobs/<job>.json)")
    parser.add_argument("--no-stack", dest="stack", action="store_false",
                        help="train several runs one after the other instead of as one stack")
    parser.add_argument("--classifier", default=None, help="image runs: the feature classifier (rule classifier), "
                                                           "for the image learning-curve metrics")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="tqdm progress bar (default: only on a terminal)")
    args = parser.parse_args(argv)
    try:
        methods.get(args.method)
        if len(args.data) != len(args.run_dir):
            raise ValueError(f"{len(args.data)} training sets but {len(args.run_dir)} run folders: give one "
                             f"--run-dir per --data")
        found = [resolve_hparams(args, d) for d in args.data]
        if any(hp != found[0] for hp in found[1:]):
            raise ValueError(f"the runs of one job must share their hyper-parameters, and {args.method} has other "
                             f"values on {args.data[found.index(next(h for h in found if h != found[0]))]} than on "
                             f"{args.data[0]}: train them in separate jobs")
        hp = found[0]
        records = train_runs(args.data, args.method, hp, args.run_dir, threads=args.threads or hp["threads"],
                             progress=args.progress, classifier=args.classifier, stack=args.stack)
    except (ValueError, FileNotFoundError, KeyError) as err:
        parser.exit(2, f"error: {err}\n")
    if args.job_record:
        write_json(args.job_record, {"method": args.method, "runs": [
            {"run_dir": str(d), "dataset": r["dataset"], "setting": r["setting"], "seed": r["seed"],
             "status": r["status"], "stack": r["stack"]} for d, r in zip(args.run_dir, records)]})
    for record in records:
        print(f"{record['method']} on {record['dataset']}/{record['setting']} seed {record['seed']}: "
              f"{record['status']}, {record['seconds_per_1000_iterations'] or float('nan'):.2f} s per 1000 "
              f"iterations" + (f" (in a stack of {record['stack']})" if record["stack"] > 1 else ""),
              file=sys.stderr)


if __name__ == "__main__":
    main()
