"""2-D metrics against closed forms and second computations (definitions: evaluation/metrics2d.py)."""
from __future__ import annotations

import numpy as np
import pytest

import datasets
from evaluation import metrics2d as m


@pytest.mark.parametrize("name, expected", [("two_circle", 1 - np.exp(-1 / (2 * 0.2))),
                                            ("ring8", 1 - np.exp(-4.5)), ("grid25", 1 - np.exp(-4.5))])
def test_hsr_of_exact_samples_is_the_gaussian_mass_within_tau(name, expected):
    ds = datasets.get(name)
    x = ds.sample(20000, np.random.default_rng(0))
    se = np.sqrt(expected * (1 - expected) / len(x))
    assert abs(m.hsr(x, ds.means, ds.tau) - expected) < 4 * se + 2e-3  # (+ the rare nearer foreign mode)
    assert m.modes_covered(x, ds.means, ds.tau) == len(ds.means)


def test_hsr_and_modes_of_a_collapsed_generator():
    ds = datasets.get("two_circle")
    x = np.repeat(ds.means[:3], 100, axis=0) + 0.01
    assert m.hsr(x, ds.means, ds.tau) == 1.0 and m.modes_covered(x, ds.means, ds.tau) == 3
    far = np.full((10, 2), 100.0)
    assert m.hsr(far, ds.means, ds.tau) == 0.0 and m.modes_covered(far, ds.means, ds.tau) == 0


def test_unbiased_mmd_is_zero_in_expectation_and_positive_for_different_distributions():
    rng = np.random.default_rng(1)
    vals = [m.mmd(rng.standard_normal((300, 2)), rng.standard_normal((300, 2))) for _ in range(30)]
    assert abs(np.mean(vals)) < 3 * np.std(vals) / np.sqrt(len(vals))
    assert m.mmd(rng.standard_normal((300, 2)), rng.standard_normal((300, 2)) + 1) > 20 * np.std(vals)
    x = rng.standard_normal((200, 2))
    assert m.mmd(x, x, unbiased=False) == pytest.approx(0, abs=1e-12)


def test_mmd_matches_a_direct_double_loop():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((15, 2)), rng.standard_normal((12, 2)) + 0.5
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / 2)  # noqa: E731
    kxx = sum(k(a, b) for i, a in enumerate(x) for j, b in enumerate(x) if i != j) / (15 * 14)
    kyy = sum(k(a, b) for i, a in enumerate(y) for j, b in enumerate(y) if i != j) / (12 * 11)
    kxy = sum(k(a, b) for a in x for b in y) / (15 * 12)
    assert m.mmd(x, y) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-10)


def test_frechet_distance_closed_form_and_pytorch_fid():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    # commuting diagonal covariances: tr(Σ1 + Σ2 − 2(Σ1Σ2)^½) = Σ (√a − √b)²
    expected = 8.0 + (1 - 3) ** 2 + (2 - 1) ** 2
    assert m.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)
    x = np.random.default_rng(3).standard_normal((500, 2))
    assert m.fd(x, x) == pytest.approx(0, abs=1e-8)
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 3))
    sa, sb = a @ a.T + 0.1 * np.eye(3), b @ b.T + 0.1 * np.eye(3)
    assert m.frechet_distance(mu1[:1].repeat(3), sa, mu2[:1].repeat(3), sb) == pytest.approx(
        calculate_frechet_distance(mu1[:1].repeat(3), sa, mu2[:1].repeat(3), sb), rel=1e-9)


def test_kld_jsd_zero_for_the_true_density_and_positive_otherwise():
    ds = datasets.get("two_circle")
    gx, gy = ds.grid(ds.sample(2000, np.random.default_rng(5)))
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    logp = ds.log_density(grid)
    true = np.exp(logp)
    assert m.kld(true, -logp + 123.0) == pytest.approx(0, abs=1e-9)  # energy = −log p + any constant
    assert m.jsd(true, -logp) == pytest.approx(0, abs=1e-9)
    flat = np.zeros_like(logp)
    assert m.kld(true, flat) > 1 and 0 < m.jsd(true, flat) <= np.log(2) + 1e-9


def test_auc_uninformative_and_true_density():
    rng = np.random.default_rng(6)
    assert m.auc(rng.random(5000), rng.random(5000)) == pytest.approx(0.5, abs=0.02)
    ds = datasets.get("two_circle")
    neg = m.auc_negatives(ds.means, ds.tau, 10, rng)
    assert neg.shape == (240, 2) and np.all(np.abs(neg - np.repeat(ds.means, 10, 0)) <= ds.tau)
    assert m.auc(ds.log_density(ds.means), ds.log_density(neg)) > 0.95


def test_mode_coverage_density():
    e_means = np.array([0.0, 1.0, 5.0])
    assert m.mode_coverage_density(e_means, np.array([0.0, 3.0]), threshold=0.1) == pytest.approx(2 / 3)
