"""Reference rows of every table and figure (docs/metrics.md, "Trained, not merely run"): what the metrics read for the best
possible model (the ceiling) and for a trivial one (the floor), computed by the same evaluation code as the runs, on
the same stored training sets, so every run's numbers can be read against both.

2-D (one pair per stored training set):
* `ceiling`: the true mixture, as sampler and as density (E = −log p);
* `floor`: a Gaussian fitted to the training set (its mean and covariance; contamination included), as sampler and
  as density. A generator that draws a round blob, or an energy with one broad well, scores what it scores.
Images (one pair per stored training set, with the DAG's classifier):
* `ceiling`: real training images as the "samples", evaluated against the held-out test images like a run's;
* `floor`: images of uniform-noise pixels.
Lower-is-better metrics (FID) therefore read low at the ceiling and high at the floor. The 2-D references'
`mmd` and `fd` compare, like a run's, with the held-out sample of the true mixture of their (dataset, seed)
(evaluation/evaluate.py, `heldout_points`), and `mmd_train`, `fd_train` with the clean training set.

Each reference is written like a run, to `<out-dir>/<dataset>/<setting>/<reference>/seed<k>/`: metrics.json (the
final evaluation: evaluation.evaluate.evaluate_run), curve.csv (one learning-curve row at iteration 0, by the
curves' own function, for the reference lines of the learning-curve figures), samples.npy and, in 2-D,
density.npz.

    python -m evaluation.references --config results/<profile>/config.yaml --data D.npz [D2.npz …]
        --out-dir results/<profile>/references [--classifier-dir results/<profile>/classifiers]

The sample sizes are the runs' on the same dataset (`sizes`: `curve_samples`, and on images `eval_samples` and
`ood_negatives`, from the resolved configuration), so a reference line reads what a run's row would.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import datasets
from datasets.settings import derive_seed
from evaluation import evaluate as ev
from evaluation.outputs import REFERENCES
from methods.harness import config as suite_config
from methods.harness.io import atomic_path, write_json
from methods.harness.runfiles import load_training_set


class TrueMixture:
    """The dataset's own mixture as a "method": `sample` draws from it, `energy` is −log p (exact)."""

    has_generator = has_energy = True

    def __init__(self, ds, rng: np.random.Generator):
        self.ds, self.rng = ds, rng

    def sample(self, n: int) -> torch.Tensor:
        return torch.as_tensor(self.ds.sample(n, self.rng))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(-self.ds.log_density(x.double().cpu().numpy()))

    def eval(self):
        return self


class FittedGaussian(TrueMixture):
    """N(μ, Σ) with the sample mean and (unbiased) covariance of the training points x: `energy` is
    ½ (x − μ)ᵀ Σ⁻¹ (x − μ) (up to the constant log-normaliser, which no metric sees)."""

    def __init__(self, x: np.ndarray, rng: np.random.Generator):
        x = np.asarray(x, np.float64)
        self.mean, self.cov, self.rng = x.mean(0), np.cov(x, rowvar=False), rng
        self.precision = np.linalg.inv(self.cov)

    def sample(self, n: int) -> torch.Tensor:
        return torch.as_tensor(self.rng.multivariate_normal(self.mean, self.cov, size=n))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        d = x.double().cpu().numpy() - self.mean
        return torch.as_tensor(0.5 * np.einsum("ni,ij,nj->n", d, self.precision, d))


class FixedSamples:
    """A generator-only "method" whose samples are given images (the image references)."""

    has_generator, has_energy = True, False

    def __init__(self, x: np.ndarray):
        self.x = x

    def sample(self, n: int) -> torch.Tensor:
        return torch.as_tensor(self.x[:n])

    def eval(self):
        return self


def status(data: dict, name: str, ood_negatives: int) -> dict:
    """The status record (train.json's shape) that evaluate_run reads, for a reference."""
    return {"dataset": str(data["dataset"]), "setting": str(data["setting"]), "method": name,
            "seed": int(data["seed"]), "kind": "reference", "status": "ok", "failure": None, "iterations": 0,
            "hparams": {"ood_negatives": ood_negatives}, "config_hash": None}


def models_2d(data: dict) -> dict:
    ds, seed = datasets.get(str(data["dataset"])), int(data["seed"])
    rng = {name: np.random.default_rng(derive_seed(ds.name, str(data["setting"]), name, seed)) for name in REFERENCES}
    return {"ceiling": TrueMixture(ds, rng["ceiling"]), "floor": FittedGaussian(data["x"], rng["floor"])}


def models_images(data: dict, n: int) -> dict:
    from datasets.images import to_float

    rng = np.random.default_rng(derive_seed(str(data["dataset"]), str(data["setting"]), "floor", int(data["seed"])))
    noise = rng.integers(0, 255, (n, *data["x"].shape[1:]), dtype=np.uint8, endpoint=True)
    return {"ceiling": FixedSamples(to_float(data["x"][:n])), "floor": FixedSamples(to_float(noise))}


def write_reference(out: Path, data: dict, model, samples: np.ndarray, record: dict, curve: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "samples.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, samples)
    with atomic_path(out / "curve.csv") as tmp:
        pd.DataFrame([{"iteration": 0, **{k: v["value"] for k, v in curve.items()}}]).to_csv(tmp, index=False)
    if model.has_energy:  # 2-D: the density figures' panel
        with atomic_path(out / "density.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **ev.density_grid(model, data["clean"], datasets.get(str(data["dataset"]))))
    write_json(out / "metrics.json", record)


def evaluate_references(data_path, out_dir, classifier_dir=None, curve_samples: int = 2000,
                        image_curve_samples: int = 500, eval_samples: int = 1000, ood_negatives: int = 500
                        ) -> list[Path]:
    """Evaluate both references of one stored training set; returns the folders written. The sample sizes are
    the runs' (config `training: curve_samples`, `images: hparams: curve_samples`, `images: eval_samples`,
    `images: ood_negatives`), so a reference line reads what a run's row would."""
    data = load_training_set(data_path)
    name, setting, seed = str(data["dataset"]), str(data["setting"]), int(data["seed"])
    image = datasets.track(name) == "image"
    classifier = None
    if image:
        from evaluation.classifier import load_classifier

        if classifier_dir is None:
            raise ValueError(f"{data_path}: image references need the DAG's classifier (--classifier-dir)")
        classifier = Path(classifier_dir) / f"{name}.pt"
        models = models_images(data, eval_samples)
        model_cls = load_classifier(classifier)
    else:
        models = models_2d(data)
    written = []
    for ref, model in models.items():
        n = eval_samples if image else datasets.get(name).n_eval
        with torch.no_grad():
            samples = model.sample(n).float().numpy()
        record = ev.evaluate_run(status(data, ref, ood_negatives), model, samples, data, None, classifier)
        if image:
            curve = ev.image_curve_metrics(model, data, model_cls, None, seed, 0, image_curve_samples,
                                           ood_negatives)
        else:
            curve = ev.curve_metrics(model, data["clean"], datasets.get(name), seed, 0, curve_samples)
        out = Path(out_dir) / name / setting / ref / f"seed{seed}"
        write_reference(out, data, model, samples, record, curve)
        written.append(out)
    return written


def sizes(cfg: dict, dataset: str) -> dict:
    """The sample sizes of `evaluate_references` for `dataset`: those of the runs on it (config.track_hparams)."""
    hp = suite_config.track_hparams(cfg, dataset)
    return {"curve_samples": hp["curve_samples"], "image_curve_samples": hp["curve_samples"],
            "eval_samples": cfg["images"]["eval_samples"], "ood_negatives": cfg["images"]["ood_negatives"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the resolved configuration (results/<profile>/config.yaml)")
    parser.add_argument("--data", nargs="+", required=True, help="stored training sets (datasets.make)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--classifier-dir", default=None, help="image datasets: where <dataset>.pt lies")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = suite_config.read(args.config)
        for path in args.data:
            with np.load(path) as f:
                dataset = str(f["dataset"])
            evaluate_references(path, args.out_dir, args.classifier_dir, **sizes(cfg, dataset))
    except (ValueError, FileNotFoundError, KeyError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
