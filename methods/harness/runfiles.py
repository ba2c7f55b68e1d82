"""The files of a run folder, `results/<profile>/runs/<dataset>/<setting>/<method>/seed<k>/`, and their loaders.

The training runner (methods/harness/train.py) writes them and the evaluation (evaluation/evaluate.py) reads them;
both import this module and neither imports the other:

* `checkpoint.pt` (CHECKPOINT): networks, optimisers, iteration, learning curve, every random-number state and the
  run's metadata (identity, hyper-parameters, data shape, config hash);
* `samples.npy` (SAMPLES): the generated points or images the final evaluation scores (empty without a generator
  or after a divergence);
* `curve.csv` (CURVE): the learning curve, one row every `eval_every` iterations;
* `train.json` (STATUS): status (ok / diverged, with the iteration and the culprits), timings, hyper-parameters;
* `density.npz` (DENSITY): a 2-D energy model's energy on a coarse grid, for the density figures;
* `metrics.json` (METRICS): the evaluation's record (evaluation/evaluate.py).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import datasets
import methods
from methods.harness.io import atomic_path, read_json

from methods.harness.runcheck import CHECKPOINT, CURVE, DENSITY, METRICS, SAMPLES, STATUS  # noqa: F401


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


def track(data: dict) -> str:
    """The track ("2d" or "image") of a stored training set, from its dataset (datasets.track)."""
    return datasets.track(str(data["dataset"]))


def training_tensors(data: dict) -> torch.Tensor:
    """The training points as float32: 2-D points as stored; images (stored as uint8) scaled to [−1, 1]."""
    if track(data) == "image":
        from datasets.images import to_float

        return torch.as_tensor(to_float(data["x"]))
    return torch.as_tensor(data["x"], dtype=torch.float32)


def save_checkpoint(path: Path, method_state: dict, torch_rng: torch.Tensor, iteration: int, curve: list,
                    rng: np.random.Generator, meta: dict):
    """A run's checkpoint: its metadata, iteration and curve, the method's `checkpoint_state` (an ordinary run's,
    also for a run of a stack), and its random streams (torch's, the numpy generator of its mini-batches)."""
    state = {"meta": meta, "iteration": iteration, "curve": curve, "method": method_state,
             "torch_rng": torch_rng, "numpy_rng": rng.bit_generator.state,
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    """A run's checkpoint, loaded with torch.load(weights_only=True): tensors and plain Python values only (what
    `save_checkpoint` writes), so a results folder from elsewhere cannot run code when it is loaded."""
    try:
        return torch.load(path, weights_only=True, map_location=torch.get_default_device())
    except pickle.UnpicklingError as err:
        if "weights_only" in str(err) or "Weights only" in str(err):
            raise ValueError(f"checkpoint {path} holds pickled Python objects, which this suite never writes; it is "
                             f"refused because loading it could run arbitrary code. Delete it to retrain this run "
                             f"from scratch.") from None
        raise ValueError(f"checkpoint {path} is corrupt (UnpicklingError: {err}). Delete it to retrain this run "
                         f"from scratch.") from None
    except Exception as err:
        raise ValueError(f"checkpoint {path} is corrupt ({type(err).__name__}: {err}). Delete it to retrain "
                         f"this run from scratch.") from None


def build_method(meta: dict):
    """The method of a run from its checkpoint metadata (name, hyper-parameters, data shape)."""
    return methods.get(meta["method"])(meta["hparams"], tuple(meta["data_shape"]))


def load_method(path) -> tuple:
    """(method, checkpoint) restored from a run's checkpoint.pt, in evaluation mode: the networks it is evaluated by
    are their weight averages where the run kept them (hp `ema`, methods/core/base.py)."""
    ckpt = load_checkpoint(Path(path))
    method = build_method(ckpt["meta"])
    method.load_checkpoint_state(ckpt["method"])
    method.swap_averages()
    method.eval()
    return method, ckpt


def write_samples(path, samples: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, samples)


def write_curve(path, curve: list[dict]) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(curve).to_csv(tmp, index=False)


def read_curve(path) -> list[dict]:
    """A learning curve as a list of rows ({iteration, loss_…, metric values}); an empty file (no rows) gives []."""
    path = Path(path)
    return pd.read_csv(path).to_dict("records") if path.stat().st_size > 1 else []


def read_run(run_dir) -> dict:
    """What the evaluation reads from a trained run's folder: `status` (train.json), `method` (restored from the
    checkpoint; None unless the run finished), `samples` and `curve`. A missing or unreadable file raises a
    ValueError that names it and the fix."""
    run_dir = Path(run_dir)

    def load(name, reader):
        try:
            return reader(run_dir / name)
        except ValueError as err:
            if str(run_dir) in str(err):  # the checkpoint's own message names its file and the fix
                raise
            raise ValueError(f"{run_dir / name} is unreadable ({err}); {FIX}") from None
        except (OSError, EOFError) as err:
            raise ValueError(f"{run_dir / name} is missing or unreadable ({type(err).__name__}: {err}); {FIX}") \
                from None

    status = load(STATUS, read_json)
    method = load(CHECKPOINT, lambda p: load_method(p)[0]) if status["status"] == "ok" else None
    return {"status": status, "method": method, "samples": load(SAMPLES, np.load), "curve": load(CURVE, read_curve)}


FIX = ("run snakemake again: it moves a damaged file aside and reruns the job that writes it "
       "(methods/harness/runcheck.py)")
