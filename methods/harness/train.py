"""The one training runner for every method.

    python -m methods.harness.train --data D.npz --method NAME --run-dir DIR
        [--config results/<profile>/config.yaml | --profile P | --hparams JSON] [--threads T] [--classifier C.pt]

Reads the stored training set, builds the method from its hyper-parameters and a seed derived from
(dataset, setting, method, seed index), and loops: one `train_step` per iteration; every `eval_every` iterations a
learning-curve row (losses and the paper's metrics: HSR, modes covered and MMD of `curve_samples` generated
points, KLD, JSD and AUC of an energy; on images, given the DAG's classifier, fid_classifier and the OOD AUCs:
evaluation.evaluate's curve functions); every `checkpoint_every` iterations and at the end a checkpoint
(networks, optimisers, iteration, curve and every random-number-generator state), from which a killed job
resumes. Writes, in DIR (methods/harness/runfiles.py): checkpoint.pt, samples.npy, curve.csv, train.json (status,
iterations, timings, hyper-parameters, config hash) and density.npz (2-D energy models: E on a coarse grid, for the
figures). The final metrics are the next step's (evaluation/evaluate.py, rule `evaluate`): a change to a metric
re-evaluates the stored runs without retraining them.

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
from evaluation import evaluate as ev
from methods.harness import config as suite_config
from methods.harness.io import atomic_path, write_json
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


def non_finite_parameters(method) -> list[str]:
    """Names of the method's parameters holding a NaN or an infinity."""
    return [name for name, p in method.named_parameters() if not torch.isfinite(p).all()]


def curve_row(it: int, losses: dict, metrics: dict) -> dict:
    """One learning-curve row: the iteration, its losses and the values of its metrics ({name: {value, params}})."""
    return {"iteration": it, **{f"loss_{k}": float(v) for k, v in losses.items()},
            **{k: v["value"] for k, v in metrics.items()}}


def curve_evaluator(data: dict, hp: dict, seed: int, classifier=None):
    """`f(method, iteration) -> {metric: {value, params}}` for the run's learning curve: the paper's
    2-D metrics (evaluation.evaluate.curve_metrics) on `curve_samples` points; on images, with the DAG's
    classifier, fid_classifier / is_classifier and the OOD AUCs (image_curve_metrics); None when there is nothing
    to evaluate (images without a classifier, curve_samples < 2)."""
    n = hp["curve_samples"]
    if n < 2:
        return None
    if track(data) == "2d":
        ds = datasets.get(str(data["dataset"]))
        return lambda method, it: ev.curve_metrics(method, data["clean"], ds, seed, it, n)
    if classifier is None:
        return None
    from evaluation.classifier import load_classifier

    model, setting = load_classifier(classifier), Setting.parse(str(data["setting"]))
    return lambda method, it: ev.image_curve_metrics(method, data, model, setting, seed, it, n, hp["ood_negatives"])


def n_samples(data: dict, hp: dict) -> int:
    """How many samples the final evaluation scores: the dataset's `n_eval` points in 2-D, `eval_samples` images."""
    return hp["eval_samples"] if track(data) == "image" else datasets.get(str(data["dataset"])).n_eval


def train(data_path, method_name: str, hp: dict, run_dir, seed: int | None = None, threads: int = 1,
          progress: bool | None = None, classifier=None) -> dict:
    """Train one run to completion (resuming from run_dir/checkpoint.pt if its config hash matches); returns its
    status record (train.json). `classifier`: the image track's feature classifier (rule classifier), for the
    image learning-curve metrics."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    device = torch.device(hp["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {hp['device']!r} was asked for (config training.device or images.hparams.device) "
                         f"but torch sees no CUDA device; set it to cpu or run the job on a GPU node")
    if device.type != "cpu":  # every tensor a method creates (noise, batches, optimiser slots) lives there. Not set
        torch.set_default_device(device)  # for the CPU: its function mode would add overhead to every operation
    data = load_training_set(data_path)
    ident = {"dataset": str(data["dataset"]), "setting": str(data["setting"]), "method": method_name,
             "seed": int(data["seed"] if seed is None else seed)}
    seed_value = derive_seed(ident["dataset"], ident["setting"], method_name, ident["seed"])
    torch.manual_seed(seed_value)
    rng = np.random.default_rng(seed_value)
    batches = training_batches(data, hp, rng)
    x = batches.x
    meta = {**ident, "hparams": hp, "data_shape": list(x.shape[1:]), "seed_value": seed_value,
            "config_hash": suite_config.config_hash(hp, **ident)}
    method = methods.get(method_name)(hp, tuple(x.shape[1:]))
    start, curve = 0, []
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["meta"].get("config_hash") != meta["config_hash"]:
            print(f"{ckpt_path} was written with other hyper-parameters or data (config hash "
                  f"{ckpt['meta'].get('config_hash')}, this run's {meta['config_hash']}); starting this run afresh",
                  file=sys.stderr)
        else:
            method.load_checkpoint_state(ckpt["method"])
            torch.set_rng_state(ckpt["torch_rng"])
            if ckpt.get("cuda_rng") is not None and device.type == "cuda":
                torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
            rng.bit_generator.state = ckpt["numpy_rng"]
            start, curve = ckpt["iteration"], ckpt["curve"]
            print(f"resuming {run_dir} from iteration {start}", file=sys.stderr)

    evaluate_curve = curve_evaluator(data, hp, ident["seed"], classifier)
    curve_params = None  # {metric: params} of the curve's metrics, from the first row this session logs
    iterations, status, failure = hp["iterations"], "ok", None
    train_seconds = 0.0
    bar = tqdm(range(start + 1, iterations + 1), initial=start, total=iterations, desc=f"{method_name}",
               disable=not sys.stderr.isatty() if progress is None else not progress, mininterval=1.0)
    for it in bar:
        t0 = time.perf_counter()
        losses = method.train_step(batches)
        train_seconds += time.perf_counter() - t0
        bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
        log_now, save_now = it % hp["eval_every"] == 0 or it == iterations, it % hp["checkpoint_every"] == 0
        bad_params = non_finite_parameters(method) if not bad and (log_now or save_now) else []
        if bad or bad_params:  # stop before logging or checkpointing anything non-finite
            status, failure = "diverged", {"iteration": it, "losses": bad, "parameters": bad_params}
            print(f"run diverged at iteration {it}: non-finite " +
                  (f"loss {', '.join(bad)}" if bad else f"parameters {', '.join(bad_params)}"), file=sys.stderr)
            break
        if log_now:
            found = evaluate_curve(method, it) if evaluate_curve is not None else {}
            curve_params = curve_params or {k: v["params"] for k, v in found.items()}
            curve.append(curve_row(it, losses, found))
            bar.set_postfix({k: f"{v:.3g}" for k, v in curve[-1].items() if k != "iteration"}, refresh=False)
        if save_now or it == iterations:
            save_checkpoint(ckpt_path, method, it, curve, rng, meta)
    bar.close()
    if curve_params is None and evaluate_curve is not None and status == "ok":  # resumed after its last row
        curve_params = {k: v["params"] for k, v in evaluate_curve(method, iterations).items()}

    done = iterations - start if status == "ok" else failure["iteration"] - start - 1
    with torch.no_grad():
        samples = method.sample(n_samples(data, hp)).cpu().numpy() if method.has_generator and status == "ok" else \
            np.zeros((0, *x.shape[1:]), dtype=np.float32)
    write_samples(run_dir / SAMPLES, samples)
    write_curve(run_dir / CURVE, curve)
    if method.has_energy and status == "ok" and track(data) == "2d":  # the density figures (figure_data.npz)
        with atomic_path(run_dir / DENSITY) as tmp, open(tmp, "wb") as f:
            np.savez(f, **ev.density_grid(method, data["clean"], datasets.get(ident["dataset"])))
    record = {**ident, "kind": method.kind, "status": status, "failure": failure, "iterations": iterations,
              "iterations_this_session": done, "resumed_from": start, "train_seconds_this_session": train_seconds,
              "seconds_per_1000_iterations": 1000 * train_seconds / done if done > 0 else None,
              "threads": threads, "seed_value": seed_value, "config_hash": meta["config_hash"],
              "curve_params": curve_params or {}, "hparams": hp}
    write_json(run_dir / STATUS, record)  # last: the evaluation reads it, and Snakemake waits for it
    return record


def resolve_hparams(args) -> dict:
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
    return suite_config.hparams(cfg, args.method, str(load_training_set(args.data)["dataset"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="training set .npz written by datasets.make")
    parser.add_argument("--method", required=True, help=f"one of {', '.join(methods.available())} (or name@preset)")
    parser.add_argument("--run-dir", required=True, help="folder for checkpoint, samples, curve, train.json")
    parser.add_argument("--config", default=None, help="the resolved configuration (results/<profile>/config.yaml)")
    parser.add_argument("--profile", default=None, help="resolve the hyper-parameters from this profile")
    parser.add_argument("--hparams", default=None, help="hyper-parameters as JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: training.threads)")
    parser.add_argument("--classifier", default=None, help="image runs: the feature classifier (rule classifier), "
                                                           "for the image learning-curve metrics")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="tqdm progress bar (default: only on a terminal)")
    args = parser.parse_args(argv)
    try:
        methods.get(args.method)
        hp = resolve_hparams(args)
        record = train(args.data, args.method, hp, args.run_dir, threads=args.threads or hp.get("threads", 1),
                       progress=args.progress, classifier=args.classifier)
    except (ValueError, FileNotFoundError, KeyError) as err:
        parser.exit(2, f"error: {err}\n")
    print(f"{record['method']} on {record['dataset']}/{record['setting']} seed {record['seed']}: {record['status']}, "
          f"{record['seconds_per_1000_iterations'] or float('nan'):.2f} s per 1000 iterations", file=sys.stderr)


if __name__ == "__main__":
    main()
