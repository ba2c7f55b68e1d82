"""The reference rows (evaluation/references.py): the ceiling reads what closed forms say a perfect
model reads, the floor is the Gaussian fit, both go through the runs' own evaluation and are written like runs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import datasets
from datasets.make import build
from datasets.synthetic import GaussianMixture
from evaluation import evaluate as ev
from evaluation import references as refs

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def two_circle(tmp_path_factory):
    path = tmp_path_factory.mktemp("refs") / "two_circle.npz"
    np.savez(path, **build("two_circle", "clean", 0))
    out = tmp_path_factory.mktemp("out")
    refs.evaluate_references(path, out, curve_samples=2000)
    return {name: json.loads((out / "two_circle/clean" / name / "seed0/metrics.json").read_text())
            for name in refs.REFERENCES} | {"dir": out}


def values(record: dict) -> dict:
    return {k: v["value"] for k, v in record["metrics"].items()}


def test_ceiling_reads_the_closed_forms(two_circle):
    ds = datasets.get("two_circle")
    ceiling = values(two_circle["ceiling"])
    # a sample lies within τ of its own mean with probability 1 − exp(−τ²/2σ²) (2-D isotropic Gaussian); the modes
    # are far apart, so that mean is its nearest one
    expected = 1 - np.exp(-ds.tau ** 2 / (2 * ds.variance))
    assert ceiling["hsr"] == pytest.approx(expected, abs=3 * np.sqrt(expected * (1 - expected) / ds.n_eval))
    assert ceiling["kld"] == pytest.approx(0, abs=1e-9) and ceiling["jsd"] == pytest.approx(0, abs=1e-9)
    assert ceiling["auc"] == 1.0 and ceiling["modes_covered"] == len(ds.means)
    assert abs(ceiling["mmd"]) < 1e-3  # unbiased MMD of two samples of one distribution: ≈ 0, either sign
    assert abs(ceiling["mmd_train"]) < 1e-3 and abs(ceiling["memorisation_z"]) < 3  # the truth copies nothing


def test_both_references_compare_with_the_runs_heldout_truth(two_circle):
    floor, ceiling = values(two_circle["floor"]), values(two_circle["ceiling"])
    assert floor["mmd"] > 20 * abs(ceiling["mmd"])  # (fd is ≈ 0 for both: the floor matches the moments)
    for name in refs.REFERENCES:
        params = two_circle[name]["metrics"]["mmd"]["params"]
        assert params["reference"] == "held-out sample of the true mixture, n = 2000"
        assert two_circle[name]["metrics"]["fd"]["params"]["reference"] == params["reference"]
        curve = pd.read_csv(two_circle["dir"] / "two_circle/clean" / name / "seed0/curve.csv")
        # the curve row: as many generated points as the final evaluation, against the same held-out truth
        assert curve["mmd"].iloc[0] == pytest.approx(values(two_circle[name])["mmd"], abs=3e-3)


def test_floor_is_the_gaussian_fit_and_far_below_the_ceiling(two_circle):
    floor, ceiling = values(two_circle["floor"]), values(two_circle["ceiling"])
    assert floor["hsr"] < 0.3 < 0.9 < ceiling["hsr"]
    assert floor["kld"] > 1.0 and abs(floor["auc"] - 0.5) < 0.1
    x = build("two_circle", "clean", 0)["x"]
    g = refs.FittedGaussian(x, np.random.default_rng(0))
    np.testing.assert_allclose(g.mean, x.mean(0))
    np.testing.assert_allclose(g.cov, np.cov(x.T))
    draws = g.sample(20000).numpy()
    np.testing.assert_allclose(draws.mean(0), g.mean, atol=0.1)
    # a covariance entry of 20000 draws has sampling sd ≈ σ²·√(2/n) ≈ 0.24 here: 5 of them
    np.testing.assert_allclose(np.cov(draws.T), g.cov, atol=5 * np.trace(g.cov) / 2 * np.sqrt(2 / len(draws)))


def test_floor_of_a_single_gaussian_is_the_truth():
    """On data from one Gaussian, the fitted Gaussian is the true model up to estimation error: KLD ≈ 0, and its
    energy differs from −log p only by a constant."""
    ds = GaussianMixture("one", np.array([[1.0, -2.0]]), 0.5, n_train=4000, tau=1.0, n_eval=2000)
    x = ds.sample(ds.n_train, np.random.default_rng(3))
    g = refs.FittedGaussian(x, np.random.default_rng(4))
    grid, _ = ev.grid_points(x, ds, 100)
    e = g.energy(torch.as_tensor(grid)).numpy()
    log_p = ds.log_density(grid)
    gap = e + log_p
    # constant within two standard deviations of the mean (Mahalanobis² ≤ 4), up to the error of a covariance
    # estimated from 4000 points (relative ≈ √(2/4000) ≈ 0.02, times 4)
    assert np.ptp(gap[log_p > log_p.max() - 2]) < 0.1
    from evaluation.metrics2d import kld

    assert kld(ds.density(grid), e) < 0.01


def test_references_are_written_like_runs(two_circle):
    for name in refs.REFERENCES:
        run = two_circle["dir"] / "two_circle/clean" / name / "seed0"
        assert two_circle[name]["method"] == name and two_circle[name]["status"] == "ok"
        assert len(np.load(run / "samples.npy")) == datasets.get("two_circle").n_eval
        curve = pd.read_csv(run / "curve.csv")
        assert list(curve["iteration"]) == [0] and {"hsr", "mmd", "kld", "auc"} <= set(curve.columns)
        # the curve row uses the curves' coarser grid, the AUC the final evaluation's negatives
        assert curve["auc"].iloc[0] == pytest.approx(two_circle[name]["metrics"]["auc"]["value"])
        with np.load(run / "density.npz") as f:
            assert f["energy"].shape == (ev.FIGURE_GRID, ev.FIGURE_GRID)


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_image_references_real_images_above_noise(tmp_path):
    """Images table references (issue: fix f): real training images against the held-out ones score a far
    lower fid_classifier, a higher IS and every class; uniform noise the opposite."""
    from evaluation.classifier import save_classifier, train_classifier
    from datasets.images import to_float

    data = build("mnist5k", "clean", 0)
    np.savez(tmp_path / "mnist5k.npz", **data)
    model = train_classifier(to_float(data["x"][:2000]), data["labels"][:2000], 10, steps=200, batch_size=64,
                             lr=1e-3, seed=0)
    (tmp_path / "classifiers").mkdir()
    save_classifier(model, tmp_path / "classifiers" / "mnist5k.pt", {"test_accuracy": 0.9})
    refs.evaluate_references(tmp_path / "mnist5k.npz", tmp_path / "out", tmp_path / "classifiers",
                             image_curve_samples=200, eval_samples=500, ood_negatives=50)
    real, noise = (values(json.loads((tmp_path / f"out/mnist5k/clean/{n}/seed0/metrics.json").read_text()))
                   for n in ("ceiling", "floor"))
    print(f"fid_classifier real {real['fid_classifier']:.3g}, noise {noise['fid_classifier']:.3g}; is_classifier "
          f"real {real['is_classifier']:.2f}, noise {noise['is_classifier']:.2f}")
    assert 10 * real["fid_classifier"] < noise["fid_classifier"]
    assert real["is_classifier"] > 5 > 2 > noise["is_classifier"]
    assert real["class_coverage"] == 10 > noise["class_coverage"]
