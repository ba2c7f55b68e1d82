"""Datasets (datasets/synthetic.py, datasets/settings.py): the mixtures know their ground truth, the settings build
what they claim, and everything matches the authors' released data (with STEIN_REFERENCE_DIR set)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import datasets
from datasets.settings import Setting, derive_seed, training_set

NAMES = list(datasets.DATASETS)


@pytest.mark.parametrize("name", NAMES)
def test_log_density_matches_scipy_mixture(name):
    ds = datasets.get(name)
    x = ds.sample(50, np.random.default_rng(0)) + 0.3
    direct = np.mean([multivariate_normal(m, ds.covariance).pdf(x) for m in ds.means], axis=0)
    np.testing.assert_allclose(ds.density(x), direct, rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_score_matches_finite_differences(name):
    ds = datasets.get(name)
    x = ds.sample(20, np.random.default_rng(1))
    h = 1e-5 * ds.std
    fd = np.stack([(ds.log_density(x + h * e) - ds.log_density(x - h * e)) / (2 * h) for e in np.eye(2)], 1)
    np.testing.assert_allclose(ds.score(x), fd, rtol=1e-4, atol=1e-4 / ds.std)


def test_published_parameters():
    tc, ts = datasets.get("two_circle"), datasets.get("two_spiral")
    radii = np.sort(np.linalg.norm(tc.means, axis=1))
    assert len(tc.means) == 24 and np.allclose(radii[:8], 4) and np.allclose(radii[8:], 8)
    assert tc.variance == 0.2 and tc.n_train == 2000 and tc.tau == 1.0
    assert len(ts.means) == 100 and ts.variance == 0.1 and ts.n_train == 5000 and ts.tau == 0.5
    assert np.allclose(ts.means[:50], -ts.means[50:])  # the two arms are point reflections of each other
    r8, g25 = datasets.get("ring8"), datasets.get("grid25")
    assert np.allclose(np.linalg.norm(r8.means, axis=1), 1) and r8.std == pytest.approx(0.01)
    assert sorted(set(g25.means[:, 0])) == [-4, -2, 0, 2, 4] and g25.std == pytest.approx(0.05)
    assert r8.tau == pytest.approx(3 * r8.std) and g25.tau == pytest.approx(3 * g25.std)


def test_sampler_moments():
    ds = datasets.get("two_circle")
    x, k = ds.sample(20000, np.random.default_rng(2), return_components=True)
    resid = x - ds.means[k]
    assert resid.var(0) == pytest.approx([0.2, 0.2], rel=0.05)
    assert np.bincount(k, minlength=24).min() > 20000 / 24 * 0.8


def test_grid_box():
    ds = datasets.get("ring8")
    x = np.array([[-1.0, -2.0], [3.0, 2.0]])
    gx, gy = ds.grid(x)
    assert gx.shape == gy.shape == (300, 300)
    # half-ranges 2 and 2, widened by 50% of them on each side
    assert (gx.min(), gx.max(), gy.min(), gy.max()) == pytest.approx((-2, 4, -3, 3))
    assert np.all(np.diff(gx[0]) > 0) and np.all(gy[:, 0] == np.sort(gy[:, 0]))


def test_unknown_dataset_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'moons'.*two_circle"):
        datasets.get("moons")


# --- settings ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [("clean", "clean"), ("contaminated-0.10", "contaminated-0.1"),
                                             ("contaminated-0.2-around_modes", "contaminated-0.2-around_modes"),
                                             ("contaminated-0.2-origin", "contaminated-0.2"),
                                             ("limited-500", "limited-500")])
def test_setting_round_trip(text, canonical):
    assert str(Setting.parse(text)) == canonical == str(Setting.parse(canonical))


@pytest.mark.parametrize("text, message", [("contaminated-1.5", r"outside \[0, 1\)"),
                                           ("contaminated-x", "not a number"),
                                           ("contaminated-0.1-uniform", "unknown noise model"),
                                           ("limited-0", "positive integer"), ("limited-abc", "positive integer"),
                                           ("noisy", "unknown setting")])
def test_bad_settings_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        Setting.parse(text)


def test_limited_larger_than_dataset_is_refused():
    with pytest.raises(ValueError, match="larger than two_circle's training set"):
        training_set(datasets.get("two_circle"), "limited-5000", 0)


def test_settings_share_the_clean_set():
    ds = datasets.get("two_spiral")
    clean = training_set(ds, "clean", 0)
    assert clean["x"].shape == (5000, 2) and not clean["is_noise"].any()
    lim = training_set(ds, "limited-300", 0)
    np.testing.assert_array_equal(lim["x"], clean["x"][:300])  # first n of the shuffled clean set
    np.testing.assert_array_equal(lim["clean"], clean["x"])
    other = training_set(ds, "clean", 1)["x"]
    assert not np.allclose(other, clean["x"])  # seeds differ


def test_contamination_is_labelled_and_nested():
    ds = datasets.get("two_circle")
    small, big = training_set(ds, "contaminated-0.1", 0), training_set(ds, "contaminated-0.3", 0)
    assert small["is_noise"].sum() == 200 and big["is_noise"].sum() == 600
    np.testing.assert_array_equal(small["x"][~small["is_noise"]], training_set(ds, "clean", 0)["x"])
    np.testing.assert_array_equal(small["x"][small["is_noise"]], big["x"][big["is_noise"]][:200])
    noise = big["x"][big["is_noise"]]
    assert noise.std(0) == pytest.approx([2, 2], rel=0.15) and np.abs(noise.mean(0)).max() < 0.3  # N(0, 2²I)
    around = training_set(ds, "contaminated-0.3-around_modes", 0)
    assert around["x"][around["is_noise"]].std(0).mean() > 4  # mixture spread + 2·N(0, I)


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed("two_circle", "clean", 0) == derive_seed("two_circle", "clean", 0)
    assert len({derive_seed("two_circle", "clean", k) for k in range(100)}) == 100
    assert 0 <= derive_seed("x") < 2 ** 63


# --- the authors' released data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["two_circle", "two_spiral"])
def test_matches_released_data(name, reference_dir):
    ref = np.load(reference_dir / f"{name}_data.npz")
    ds = datasets.get(name)
    assert ref["train_samples"].shape == (ds.n_train, 2)
    gx, gy = ds.grid(ref["train_samples"])
    np.testing.assert_allclose(gx, ref["grid_x"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(gy, ref["grid_y"], rtol=1e-12, atol=0)
    grid = np.stack([ref["grid_x"].ravel(), ref["grid_y"].ravel()], axis=1)
    np.testing.assert_allclose(ds.density(grid).reshape(300, 300), ref["grid_density"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(ds.density(ref["train_samples"]), ref["train_density"], rtol=1e-9, atol=0)
    # the released samples are plausible draws from our mixture: every one is near one of our means
    d = np.linalg.norm(ref["train_samples"][:, None] - ds.means[None], axis=-1).min(1)
    assert d.max() < 6 * ds.std
