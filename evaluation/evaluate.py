"""Evaluate trained runs, each into its metrics.json: one record with the run's identity, status, every metric as
{value, params} (the parameters that define it: sample sizes, thresholds, bandwidth, feature space; the metrics'
definitions are in evaluation/metrics2d.py and evaluation/images.py) and provenance.

The DAG's `evaluate` step, and the way to re-evaluate any stored run, e.g. after a change to a metric:

    python -m evaluation.evaluate --run-dir results/<profile>/runs/<dataset>/<setting>/<method>/seed<k> --data D.npz
        [--classifier results/<profile>/classifiers/<dataset>.pt]   (image runs)
    python -m evaluation.evaluate --run-dir R1 R2 … --data D1 D2 … [--job-record E.json]   (a training job's runs)

The DAG evaluates a training job's runs in one process (one `evaluate` job per training job, README "Stacked
runs"); `--job-record` then writes the list of the metrics files it wrote, the job's output.

It reads what training wrote (methods/harness/runfiles.py: train.json, checkpoint.pt, samples.npy, curve.csv) and
never trains. The learning-curve functions (`curve_metrics`, `image_curve_metrics`) are called by the training
runner while it trains. The provenance names the evaluation code's version (evaluation/outputs.py,
`evaluation_version`), the same fingerprint that makes the DAG re-evaluate every run when that code changes.
"""
from __future__ import annotations

import argparse
import contextlib
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

import datasets
from datasets.settings import Setting, derive_seed, sample_noise
from datasets.synthetic import GRID_SIZE
from evaluation import metrics2d as m
from evaluation.outputs import evaluation_version
from methods.harness.config import ROOT
from methods.harness.io import git_commit, write_json
from methods.harness.runfiles import METRICS, load_training_set, read_run, track

GRID_BATCH = 10_000  # energy evaluated on the 300 × 300 grid in batches of this many points
IMAGE_BATCH = 250  # … and on images in batches of this many
AUC_NEGATIVES_PER_MEAN = 10  # the AUC's negatives per mixture mean (evaluation/metrics2d.py, `auc`)
MMD_BANDWIDTH = 1.0  # the RBF kernel's bandwidth of `mmd` (evaluation/metrics2d.py)
CONTAMINATION_HELD_OUT = 1000  # auc_contamination: fresh clean points and as many fresh noise points (metrics2d.py)
STABILITY_TAIL = 0.4  # mmd_spread: the learning-curve MMD over the last 40% of training (metrics2d.py)
FIGURE_GRID = 100  # the energy's density for figures on a coarser grid (stored per run, figures/ rebuilds from it)
CURVE_GRID = 100  # learning-curve KLD on this coarser grid (10⁴ energies per row instead of 9·10⁴)


def provenance(config_hash: str | None) -> dict:
    commit = git_commit(ROOT)
    return {"git_commit": commit, "config_hash": config_hash, "evaluation_version": evaluation_version(),
            "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "sklearn": version("scikit-learn"),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({platform.machine()})"}


@torch.no_grad()
def energies(method, x: np.ndarray) -> np.ndarray:
    """E(x) for many points, in batches of GRID_BATCH (2-D points) or IMAGE_BATCH (images)."""
    batch = GRID_BATCH if np.ndim(x) == 2 else IMAGE_BATCH
    out = [method.energy(torch.as_tensor(x[i:i + batch], dtype=torch.float32)).double().cpu().numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out)


def heldout_points(ds, seed: int) -> np.ndarray:
    """The held-out truth of seed index `seed`: a fresh sample of the true mixture, as large as the clean training
    set (n_train points, as many as are generated), from its own random stream (derive_seed(name, "heldout", seed);
    the training sets draw from (name, "clean", seed), datasets/settings.py), so it shares no draw with any training
    set. The same in every setting of (dataset, seed), contaminated and limited ones included; the final evaluation,
    the references and every learning-curve row (its first n points) compare against it."""
    return ds.sample(ds.n_train, np.random.default_rng(derive_seed(ds.name, "heldout", seed)))


def heldout_reference(heldout: np.ndarray) -> dict:
    return {"n_reference": len(heldout), "reference": f"held-out sample of the true mixture, n = {len(heldout)}"}


def sample_quality(samples: np.ndarray, ds) -> dict:
    """hsr, modes_covered and modes_covered_frac: they read the mixture's means, no data points."""
    n, covered = len(samples), m.modes_covered(samples, ds.means, ds.tau)
    return {
        "hsr": {"value": m.hsr(samples, ds.means, ds.tau), "params": {"tau": ds.tau, "n_generated": n}},
        "modes_covered": {"value": covered, "params": {"tau": ds.tau, "n_modes": len(ds.means), "n_generated": n}},
        "modes_covered_frac": {"value": covered / len(ds.means), "params": {"tau": ds.tau, "n_generated": n}},
    }


def mmd_heldout(samples: np.ndarray, heldout: np.ndarray) -> dict:
    """`mmd`: the unbiased squared MMD of the samples against the held-out truth."""
    return {"mmd": {"value": m.mmd(samples, heldout, MMD_BANDWIDTH),
                    "params": {"n_generated": len(samples), **heldout_reference(heldout), "kernel": "rbf",
                               "bandwidth": MMD_BANDWIDTH, "estimator": "unbiased"}}}


def generator_metrics(samples: np.ndarray, heldout: np.ndarray, clean: np.ndarray, ds) -> dict:
    """The 2-D generator metrics of `samples` (evaluation/metrics2d.py): hsr and modes from the mixture's means;
    `mmd` and `fd` against the held-out truth `heldout` (`heldout_points`), so that a generator that reproduces its
    training points cannot win; `mmd_train`, `mmd_biased` (the released code's comparisons: unbiased and biased
    estimators) and `fd_train` against the clean training set `clean`; and `memorisation_z`, the gap
    mmd − mmd_train in units of its noise under the permutation null (metrics2d.mmd_memorisation), from which
    runs.csv flags a run `memorised` (evaluation/trained.py)."""
    n = len(samples)
    kernel = {"kernel": "rbf", "bandwidth": MMD_BANDWIDTH}
    held = {"n_generated": n, **heldout_reference(heldout)}
    train = {"n_generated": n, "n_reference": len(clean), "reference": "clean training set"}
    vs_train = m.mmd_estimates(samples, clean, MMD_BANDWIDTH)
    gap = m.mmd_memorisation(samples, heldout, clean, MMD_BANDWIDTH)
    z = gap["gap"] / gap["noise"] if gap["noise"] > 0 else float("nan")
    return {
        **sample_quality(samples, ds),
        **mmd_heldout(samples, heldout),
        "mmd_train": {"value": vs_train["unbiased"], "params": {**train, **kernel, "estimator": "unbiased"}},
        "mmd_biased": {"value": vs_train["biased"], "params": {**train, **kernel, "estimator": "biased"}},
        "fd": {"value": m.fd(samples, heldout), "params": {**held, "feature_space": "raw 2-D coordinates"}},
        "fd_train": {"value": m.fd(samples, clean), "params": {**train, "feature_space": "raw 2-D coordinates"}},
        "memorisation_z": {"value": z, "params": {
            **kernel, "n_generated": n, "n_reference": len(clean), "statistic": "(mmd - mmd_train) / noise",
            "gap": gap["gap"], "noise": gap["noise"], "noise_definition": "sd of mmd - mmd_train under random "
                                                                          "relabelling of the pooled held-out and "
                                                                          "training points (exact)"}},
    }


def grid_points(clean: np.ndarray, ds, size: int = GRID_SIZE) -> tuple[np.ndarray, dict]:
    """The evaluation grid's points (size², 2) over the clean training data's box widened by 50% on each side, and
    the parameters that define KLD/JSD on it."""
    gx, gy = ds.grid(clean, size)
    return np.stack([gx.ravel(), gy.ravel()], axis=1), {
        "grid": f"{gx.shape[0]}x{gx.shape[1]}", "box": "clean training data, widened 50%", "clip": list(m.CLIP)}


def auc_points(ds, seed: int) -> np.ndarray:
    """The AUC's negatives of a run: AUC_NEGATIVES_PER_MEAN points per mean, uniform in mean ± τ,
    drawn from the run's seed index, so the final evaluation and every learning-curve row use the same ones."""
    rng = np.random.default_rng(derive_seed(ds.name, "auc_negatives", seed))
    return m.auc_negatives(ds.means, ds.tau, AUC_NEGATIVES_PER_MEAN, rng)


def energy_metrics(method, clean: np.ndarray, ds, seed: int, grid_size: int = GRID_SIZE) -> dict:
    grid, grid_params = grid_points(clean, ds, grid_size)
    e_grid, true = energies(method, grid), ds.density(grid)
    e_means = energies(method, ds.means)
    return {
        "kld": {"value": m.kld(true, e_grid), "params": grid_params},
        "jsd": {"value": m.jsd(true, e_grid), "params": grid_params},
        "auc": {"value": m.auc(-e_means, -energies(method, auc_points(ds, seed))),
                "params": {"positives": "mixture means", "negatives_per_mean": AUC_NEGATIVES_PER_MEAN,
                           "box_half_width": ds.tau, "score": "-E"}},
        "mode_coverage_density": {"value": m.mode_coverage_density(e_means, e_grid, ds.density_threshold),
                                  "params": {"threshold": ds.density_threshold, "relative_to": "grid maximum"}},
    }


def contamination_metrics(method, ds, setting: Setting, seed: int) -> dict:
    """auc_contamination (evaluation/metrics2d.py): −E ranks fresh clean points above fresh points of the setting's
    noise model."""
    rng = np.random.default_rng(derive_seed(ds.name, str(setting), "auc_contamination", seed))
    clean = ds.sample(CONTAMINATION_HELD_OUT, rng)
    noise = sample_noise(ds, setting.noise, CONTAMINATION_HELD_OUT, rng)
    return {"auc_contamination": {
        "value": m.auc(-energies(method, clean), -energies(method, noise)),
        "params": {"positives": f"{CONTAMINATION_HELD_OUT} held-out clean points",
                   "negatives": f"{CONTAMINATION_HELD_OUT} held-out noise points ({setting.noise})", "score": "-E"}}}


def stability_metrics(curve: list[dict], iterations: int, curve_params: dict | None = None) -> dict:
    """mmd_spread (evaluation/metrics2d.py; claim C5): standard deviation of the learning-curve MMD over the last
    40% of training; its params name the reference the curve's MMD was computed against (the run's
    `curve_params`, train.json: runs trained before the held-out truth compared with clean training points)."""
    tail = [row["mmd"] for row in curve if "mmd" in row and row["iteration"] > (1 - STABILITY_TAIL) * iterations]
    if len(tail) < 2:
        return {}
    return {"mmd_spread": {"value": float(np.std(tail, ddof=1)),
                           "params": {"statistic": "std of curve MMD", "window": f"last {STABILITY_TAIL:.0%}",
                                      "points": len(tail),
                                      "curve_reference": ((curve_params or {}).get("mmd") or {}).get("reference")}}}


CURVE_GENERATOR, CURVE_ENERGY = ("mmd", "hsr", "modes_covered"), ("kld", "jsd", "auc")


@contextlib.contextmanager
def curve_draws(dataset: str, seed: int, iteration: int):
    """The random draws of one learning-curve row: torch's generator forked and seeded by (dataset, seed index,
    iteration), gradients off. The training's random streams are untouched, so how often a curve row is logged
    never changes what the run learns."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(derive_seed(dataset, "curve", seed, iteration))
        yield


def curve_metrics(method, clean: np.ndarray, ds, seed: int, iteration: int, n: int) -> dict:
    """The paper's 2-D metrics at one point of a learning curve, as {name: {value, params}}, by the
    final evaluation's own functions: for a generator, HSR, modes covered and MMD of n generated points against
    the first n points of the final evaluation's held-out truth (`heldout_points`); for an energy, KLD and JSD on
    a CURVE_GRID² grid (coarser than the final 300²) and the AUC on the final evaluation's negatives (so the last
    row's AUC is the final AUC).

    Its random draws (the samples) are seeded by (dataset, seed, iteration), apart from the training's
    (`curve_draws`)."""
    out = {}
    with curve_draws(ds.name, seed, iteration):
        if method.has_generator:
            fake = method.sample(n).double().cpu().numpy()
            found = sample_quality(fake, ds) | mmd_heldout(fake, heldout_points(ds, seed)[:n])
            out |= {k: found[k] for k in CURVE_GENERATOR}
        if method.has_energy:
            found = energy_metrics(method, clean, ds, seed, CURVE_GRID)
            out |= {k: found[k] for k in CURVE_ENERGY}
    return out


def curve_evaluator(data: dict, hp: dict, seed: int, classifier=None):
    """`f(method, iteration) -> {metric: {value, params}}` for a run's learning curve (the training runner's
    `training: curves:` hook, methods/harness/train.py): the paper's
    2-D metrics (evaluation.evaluate.curve_metrics) on `curve_samples` points; on images, with the DAG's
    classifier, fid_classifier / is_classifier and the OOD AUCs (image_curve_metrics); None when there is nothing
    to evaluate (images without a classifier, curve_samples < 2)."""
    n = hp["curve_samples"]
    if n < 2:
        return None
    if track(data) == "2d":
        ds = datasets.get(str(data["dataset"]))
        return lambda method, it: curve_metrics(method, data["clean"], ds, seed, it, n)
    if classifier is None:
        return None
    from evaluation.classifier import load_classifier

    model, setting = load_classifier(classifier), Setting.parse(str(data["setting"]))
    return lambda method, it: image_curve_metrics(method, data, model, setting, seed, it, n, hp["ood_negatives"])


def density_grid(method, clean: np.ndarray, ds) -> dict:
    """The model's energy on a FIGURE_GRID² grid over the evaluation box, for the density figures (paper Fig. 4)."""
    gx, gy = ds.grid(clean, FIGURE_GRID)
    e = energies(method, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    return {"grid_x": gx.astype(np.float32), "grid_y": gy.astype(np.float32), "energy": e.astype(np.float32)}


def image_generator_metrics(samples: np.ndarray, x_test: np.ndarray, classifier, inception: bool = True) -> dict:
    """The image generator metrics of images `samples` against the held-out `x_test` (both in [−1, 1]): in the
    feature space of the DAG's classifier (fid_classifier, is_classifier, class_coverage, class_kl_uniform), on
    pixels (mean_bias_l1/l2) and, with `inception`, FID with pytorch-fid's InceptionV3 when its weights are present
    (else a missing value with the reason). `classifier`: (model, meta) of evaluation.classifier.load_classifier."""
    from evaluation import images as im
    from evaluation.classifier import class_probs, features

    model, meta = classifier
    space = (f"classifier penultimate layer ({features(model, x_test[:2]).shape[1]}-d; held-out accuracy "
             f"{meta['test_accuracy']:.3f})")
    base = {"n_generated": len(samples), "n_real": len(x_test), "reference": "held-out test images"}
    probs = class_probs(model, samples)
    coverage = im.class_coverage(probs, model.arch["n_classes"])
    out = {
        "fid_classifier": {"value": im.fid_from_features(features(model, samples), features(model, x_test)),
                           "params": {**base, "feature_space": space}},
        "is_classifier": {"value": im.inception_score(probs), "params": {**base, "classifier": space}},
        "class_coverage": {"value": coverage["class_coverage"],
                           "params": {"fraction_of_fair_share": 0.1, "classifier": space}},
        "class_kl_uniform": {"value": coverage["class_kl_uniform"], "params": {"classifier": space}},
        **{k: {"value": v, "params": {**base, "per": "pixel value"}}
           for k, v in im.mean_bias(samples, x_test).items()},
    }
    if inception:
        fid_inc = im.fid_inception(samples, x_test)
        out["fid_inception"] = {"value": fid_inc["value"],
                                "params": {**fid_inc["params"], **({"missing": fid_inc["reason"]}
                                                                   if fid_inc["reason"] else {})}}
    return out


def image_energy_metrics(method, data: dict, setting: Setting, seed: int, n_negatives: int,
                         contamination: bool = True) -> dict:
    """The image energy metrics: auc_ood_noise / auc_ood_overlay (−E ranks the held-out test images above
    uniform-noise images / above overlays of two classes) and, on contaminated settings (unless `contamination`
    is False), auc_contamination (held-out test images against fresh noise images)."""
    from datasets.images import to_float
    from evaluation import images as im

    x_test, y_test = to_float(data["x_test"]), data["y_test"]
    rng = np.random.default_rng(derive_seed(str(data["dataset"]), str(setting), "auc_ood", seed))
    neg = im.ood_negatives(x_test, y_test, n_negatives, rng)
    e_real = energies(method, x_test)
    out = {}
    for kind in ("noise", "overlay"):
        out[f"auc_ood_{kind}"] = {"value": im.auc_scores(-e_real, -energies(method, neg[kind])),
                                  "params": {"positives": f"{len(x_test)} held-out test images",
                                             "negatives": f"{n_negatives} {kind} images", "score": "-E"}}
    if contamination and setting.kind == "contaminated":  # fresh images of its noise model (datasets/images.py)
        rng = np.random.default_rng(derive_seed(str(data["dataset"]), str(setting), "auc_contamination", seed))
        noise = to_float(rng.integers(0, 255, (n_negatives, *x_test.shape[1:]), dtype=np.uint8, endpoint=True))
        out["auc_contamination"] = {
            "value": im.auc_scores(-e_real, -energies(method, noise)),
            "params": {"positives": f"{len(x_test)} held-out test images",
                       "negatives": f"{n_negatives} fresh noise images (uniform pixels)", "score": "-E"}}
    return out


def image_metrics(method, samples: np.ndarray, data: dict, classifier_path, setting: Setting, seed: int,
                  n_negatives: int) -> dict:
    """An image run's metrics: `image_generator_metrics` of its samples where it has a generator,
    `image_energy_metrics` where it has an energy."""
    from datasets.images import to_float
    from evaluation.classifier import load_classifier

    out = {}
    if method.has_generator:
        out |= image_generator_metrics(samples, to_float(data["x_test"]), load_classifier(classifier_path))
    if method.has_energy:
        out |= image_energy_metrics(method, data, setting, seed, n_negatives)
    return out


IMAGE_CURVE = ("fid_classifier", "is_classifier", "auc_ood_noise", "auc_ood_overlay")


def image_curve_metrics(method, data: dict, classifier, setting: Setting, seed: int, iteration: int, n: int,
                        n_negatives: int) -> dict:
    """The image metrics at one point of a learning curve: fid_classifier and is_classifier of n generated images
    (generators), auc_ood_noise and auc_ood_overlay (energies, on the final evaluation's negatives), by the final
    evaluation's functions, with draws seeded by (dataset, seed, iteration), apart from the training's
    (`curve_draws`)."""
    from datasets.images import to_float

    out = {}
    with curve_draws(str(data["dataset"]), seed, iteration):
        if method.has_generator:
            found = image_generator_metrics(method.sample(n).float().cpu().numpy(), to_float(data["x_test"]),
                                            classifier, inception=False)
            out |= {k: v for k, v in found.items() if k in IMAGE_CURVE}
        if method.has_energy:
            out |= image_energy_metrics(method, data, setting, seed, n_negatives, contamination=False)
    return out


def evaluate_run(status: dict, method, samples: np.ndarray, data: dict, curve: list[dict] | None = None,
                 classifier=None) -> dict:
    """The metrics.json record of a run from its status record (train.json), its trained method, its generated
    samples, its training set (datasets.make) and its learning curve; image runs also need the DAG's classifier."""
    ident = {k: status[k] for k in ("dataset", "setting", "method", "seed")}
    record = {**ident, "kind": status.get("kind"), "status": status["status"], "failure": status.get("failure"),
              "metrics": {}, "curve_params": status.get("curve_params", {}),
              "train": {k: status.get(k) for k in ("iterations", "seconds_per_1000_iterations", "threads",
                                                          "machine", "git_commit", "training_code", "config_hash")},
              "provenance": provenance(status.get("config_hash"))}
    if status["status"] != "ok":
        return record
    setting = Setting.parse(ident["setting"])
    method.eval()
    if datasets.track(ident["dataset"]) == "image":
        if classifier is None:
            raise ValueError(f"{ident['dataset']} is an image dataset: its metrics need the DAG's feature classifier "
                             f"(--classifier results/<profile>/classifiers/{ident['dataset']}.pt; rule classifier, "
                             f"or python -m evaluation.classifier)")
        record["metrics"] = image_metrics(method, samples, data, classifier, setting, ident["seed"],
                                          status["hparams"]["ood_negatives"])
        return record
    ds, clean = datasets.get(ident["dataset"]), data["clean"]
    if method.has_generator:
        record["metrics"].update(generator_metrics(samples, heldout_points(ds, ident["seed"]), clean, ds))
        record["metrics"].update(stability_metrics(curve or [], status["iterations"], record["curve_params"]))
    if method.has_energy:
        record["metrics"].update(energy_metrics(method, clean, ds, ident["seed"]))
        if setting.kind == "contaminated":
            record["metrics"].update(contamination_metrics(method, ds, setting, ident["seed"]))
    return record


def evaluate(run_dir, data_path, classifier=None) -> dict:
    """Evaluate a stored run from its folder (train.json, checkpoint.pt, samples.npy, curve.csv) and its training
    set (and, for an image run, the classifier)."""
    run = read_run(run_dir)
    return evaluate_run(run["status"], run["method"], run["samples"], load_training_set(data_path), run["curve"],
                        classifier)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True, nargs="+", help="one or more run folders")
    parser.add_argument("--data", required=True, nargs="+", help="each run's training set .npz, in the same order")
    parser.add_argument("--out", default=None, help=f"default: <run-dir>/{METRICS} (one run only)")
    parser.add_argument("--classifier", default=None, help="image runs: results/<profile>/classifiers/<dataset>.pt")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--job-record", default=None, help="write the list of metrics files written here (JSON)")
    args = parser.parse_args(argv)
    if len(args.data) != len(args.run_dir):
        parser.error(f"{len(args.run_dir)} run folders but {len(args.data)} training sets: give one --data per run")
    if args.out and len(args.run_dir) > 1:
        parser.error("--out names one metrics file: give it with a single --run-dir")
    torch.set_num_threads(args.threads)
    written = []
    for run_dir, data in zip(args.run_dir, args.data):
        try:
            record = evaluate(run_dir, data, args.classifier)
        except (ValueError, FileNotFoundError) as err:
            parser.exit(2, f"error: {run_dir}: {err}\n")
        out = args.out or str(Path(run_dir) / METRICS)
        write_json(out, record)
        written.append(out)
    if args.job_record:
        write_json(args.job_record, {"evaluation": evaluation_version(), "metrics": written})

if __name__ == "__main__":
    main()
