"""The one training runner for every method (SPEC §2.1, §4.3, §5, §8).

    python -m methods.harness.train --data D.npz --method NAME --run-dir DIR [--profile P | --hparams JSON] [--threads T]

Reads the stored training set, builds the method from its hyper-parameters and a seed derived from
(dataset, setting, method, seed index), and loops: one `train_step` per iteration; every `eval_every` iterations a
learning-curve row (losses and the paper's metrics: HSR, modes covered and MMD of `curve_samples` generated
points, KLD, JSD and AUC of an energy; on images fid_classifier and the OOD AUCs; evaluation.evaluate); every
`checkpoint_every` iterations and at the end a checkpoint (networks, optimisers, iteration, curve and every
random-number-generator state), from which a killed job resumes. Writes, in DIR: checkpoint.pt, samples.npy,
curve.csv, train.json (status, iterations, timings), density.npz (energy methods: E on a coarse grid, for figures)
and, evaluated in this process, metrics.json
(evaluation/evaluate.py). Non-finite losses (checked every iteration) or parameters (checked before every
learning-curve row and checkpoint) stop the run with status "diverged", the iteration and the culprits recorded;
its outputs are still written, so the DAG goes on and the tables count the seed as diverged.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

import datasets
import methods
from datasets.settings import Setting, derive_seed
from methods.harness import config as suite_config
from methods.harness.io import atomic_path, write_json

CHECKPOINT, SAMPLES, CURVE, STATUS, METRICS = "checkpoint.pt", "samples.npy", "curve.csv", "train.json", "metrics.json"
DENSITY = "density.npz"  # energy methods: the model's energy on a coarse grid, for figures
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
    x = training_tensors(data)
    return Batches(x, hp["batch_size"], rng, GREY_LEVEL if data["x"].dtype == np.uint8 else 0.0)


def load_training_set(path) -> dict:
    """The stored training set (datasets/make.py); a missing or corrupt file gets a message naming it."""
    try:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"training set {path} does not exist; build it with `python -m datasets.make` "
                                f"or let snakemake do it") from None
    except Exception as err:  # zipfile/pickle errors of a truncated or foreign file
        raise ValueError(f"training set {path} is unreadable ({type(err).__name__}: {err}); delete it and "
                         f"rerun so it is rebuilt") from None


def save_checkpoint(path: Path, method, iteration: int, curve: list, rng: np.random.Generator, meta: dict):
    state = {"meta": meta, "iteration": iteration, "curve": curve, "method": method.checkpoint_state(),
             "torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state,
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, weights_only=False, map_location=torch.get_default_device())
    except Exception as err:
        raise ValueError(f"checkpoint {path} is corrupt ({type(err).__name__}: {err}). Delete it to retrain "
                         f"this run from scratch.") from None


def build_method(meta: dict):
    """The method of a run from its checkpoint metadata (name, hyper-parameters, data shape)."""
    return methods.get(meta["method"])(meta["hparams"], tuple(meta["data_shape"]))


def load_method(path) -> tuple:
    """(method, checkpoint) restored from a run's checkpoint.pt, for evaluation."""
    ckpt = load_checkpoint(Path(path))
    method = build_method(ckpt["meta"])
    method.load_checkpoint_state(ckpt["method"])
    method.eval()
    return method, ckpt


def training_tensors(data: dict) -> torch.Tensor:
    """The training points as float32: 2-D points as stored; images (stored as uint8) scaled to [−1, 1]."""
    if data["x"].dtype == np.uint8:
        from datasets.images import to_float

        return torch.as_tensor(to_float(data["x"]))
    return torch.as_tensor(data["x"], dtype=torch.float32)


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
    from evaluation import evaluate as ev  # here: evaluate imports this module's helpers to re-evaluate runs

    n = hp["curve_samples"]
    if n < 2:
        return None
    if data["x"].dtype != np.uint8:
        ds = datasets.get(str(data["dataset"]))
        return lambda method, it: ev.curve_metrics(method, data["clean"], ds, seed, it, n)
    if classifier is None:
        return None
    from evaluation.classifier import load_classifier

    model, setting = load_classifier(classifier), Setting.parse(str(data["setting"]))
    return lambda method, it: ev.image_curve_metrics(method, data, model, setting, seed, it, n, hp["ood_negatives"])


def train(data_path, method_name: str, hp: dict, run_dir, seed: int | None = None, threads: int = 1,
          progress: bool | None = None, classifier=None) -> dict:
    """Train one run to completion (resuming from run_dir/checkpoint.pt if present); returns its status record.
    `classifier`: the image track's feature classifier (rule classifier), for image metrics."""
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
    image = data["x"].dtype == np.uint8
    torch.manual_seed(seed_value)
    rng = np.random.default_rng(seed_value)
    batches = training_batches(data, hp, rng)
    x = batches.x
    meta = {**ident, "hparams": hp, "data_shape": list(x.shape[1:]), "seed_value": seed_value,
            "config_hash": suite_config.digest(hp)}
    method = methods.get(method_name)(hp, tuple(x.shape[1:]))
    start, curve = 0, []
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["meta"]["config_hash"] != meta["config_hash"] or ckpt["meta"]["dataset"] != ident["dataset"]:
            print(f"{ckpt_path} was written with other hyper-parameters or data; starting this run afresh",
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
    n_eval = hp["eval_samples"] if image else datasets.get(ident["dataset"]).n_eval
    with torch.no_grad():
        samples = method.sample(n_eval).cpu().numpy() if method.has_generator and status == "ok" else \
            np.zeros((0, *x.shape[1:]), dtype=np.float32)
    with atomic_path(run_dir / SAMPLES) as tmp, open(tmp, "wb") as f:
        np.save(f, samples)
    with atomic_path(run_dir / CURVE) as tmp:
        pd.DataFrame(curve).to_csv(tmp, index=False)
    record = {**ident, "kind": method.kind, "status": status, "failure": failure, "iterations": iterations,
              "iterations_this_session": done, "resumed_from": start, "train_seconds_this_session": train_seconds,
              "seconds_per_1000_iterations": 1000 * train_seconds / done if done > 0 else None,
              "threads": threads, "seed_value": seed_value, "config_hash": meta["config_hash"],
              "curve_params": curve_params or {}, "hparams": hp}
    write_json(run_dir / STATUS, record)
    from evaluation.evaluate import density_grid, evaluate_run  # here: evaluation imports this module's helpers

    if method.has_energy and status == "ok" and not image:  # 2-D density figures (figure_data.npz)
        with atomic_path(run_dir / DENSITY) as tmp, open(tmp, "wb") as f:
            np.savez(f, **density_grid(method, data["clean"], datasets.get(ident["dataset"])))
    write_json(run_dir / METRICS, evaluate_run(record, method, samples, data, curve, classifier))
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="training set .npz written by datasets.make")
    parser.add_argument("--method", required=True, help=f"one of {', '.join(methods.available())}")
    parser.add_argument("--run-dir", required=True, help="folder for checkpoint, samples, curve, train.json")
    parser.add_argument("--profile", default=None, help="resolve hyper-parameters from this profile")
    parser.add_argument("--hparams", default=None, help="hyper-parameters as JSON (what the DAG passes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--classifier", default=None, help="image runs: the feature classifier (rule classifier)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="tqdm progress bar (default: only on a terminal)")
    args = parser.parse_args(argv)
    try:
        if args.hparams:
            hp = json.loads(args.hparams)
        else:  # the dataset decides image vs 2-D values and per-dataset presets
            hp = suite_config.hparams(suite_config.load(args.profile), args.method,
                                      str(load_training_set(args.data)["dataset"]))
        methods.get(args.method)
        record = train(args.data, args.method, hp, args.run_dir, threads=args.threads, progress=args.progress,
                       classifier=args.classifier)
    except (ValueError, FileNotFoundError, KeyError) as err:
        parser.exit(2, f"error: {err}\n")
    print(f"{record['method']} on {record['dataset']}/{record['setting']} seed {record['seed']}: {record['status']}, "
          f"{record['seconds_per_1000_iterations'] or float('nan'):.2f} s per 1000 iterations", file=sys.stderr)


if __name__ == "__main__":
    main()
