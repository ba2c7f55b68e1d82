"""Generator metrics against held-out truth (evaluation/evaluate.py `heldout_points`, evaluation/metrics2d.py
`mmd_memorisation`, evaluation/trained.py `memorised`): the held-out sample is a fixed, fresh sample of the true
mixture; a generator that resamples its training points is flagged memorised, fresh draws of the truth are not."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

import datasets
from datasets.settings import training_set
from evaluation import evaluate as ev
from evaluation import metrics2d as m
from evaluation import trained as t

torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["two_circle", "two_spiral"])
def test_heldout_sample_is_fixed_fresh_and_as_large_as_the_training_set(name):
    ds = datasets.get(name)
    held = ev.heldout_points(ds, 0)
    assert held.shape == (ds.n_train, 2) and np.array_equal(held, ev.heldout_points(ds, 0))  # deterministic
    assert not np.array_equal(held, ev.heldout_points(ds, 1))  # per seed index
    for setting in ("clean", "contaminated-0.2", "limited-100"):
        x = training_set(ds, setting, 0)
        points = {tuple(p) for p in np.concatenate([x["x"], x["clean"]])}
        assert not points & {tuple(p) for p in held}  # shares no point with any training set of its seed
    # a sample of the truth: its Fréchet distance to the training set's is that of two independent samples
    assert m.fd(held, training_set(ds, "clean", 0)["clean"]) < 0.1


def test_memorisation_gap_and_its_noise_against_every_relabelling():
    """The gap is mmd(x, heldout) − mmd(x, train); its noise the standard deviation of that gap over all C(2m, m)
    balanced relabellings of the pooled points, enumerated here."""
    rng = np.random.default_rng(0)
    x, h, tr = rng.standard_normal((7, 2)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2)) + 0.3
    found = m.mmd_memorisation(x, h, tr)
    assert found["gap"] == pytest.approx(m.mmd(x, h) - m.mmd(x, tr), rel=1e-10)
    pooled = np.concatenate([h, tr])
    gaps = []
    for first in itertools.combinations(range(8), 4):
        rest = [j for j in range(8) if j not in first]
        gaps.append(m.mmd(x, pooled[list(first)]) - m.mmd(x, pooled[rest]))
    assert np.mean(gaps) == pytest.approx(0, abs=1e-12)
    assert found["noise"] == pytest.approx(np.std(gaps), rel=1e-9)
    with pytest.raises(ValueError, match="equally large"):
        m.mmd_memorisation(x, h, tr[:3])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_resampler_is_memorised_and_fresh_draws_of_the_truth_are_not(seed):
    """On Two-Circle (2000 points): a generator that draws its samples from its own training points with
    replacement beats the truth against the training set (mmd_train) but not against the held-out truth (mmd), by
    more than MEMORISED_Z noise; fresh draws of the mixture read mmd ≈ 0 within noise and are not flagged."""
    ds = datasets.get("two_circle")
    clean, held = training_set(ds, "clean", seed)["clean"], ev.heldout_points(ds, seed)
    rng = np.random.default_rng(100 + seed)
    resampled = ev.generator_metrics(clean[rng.integers(len(clean), size=ds.n_eval)], held, clean, ds)
    fresh = ev.generator_metrics(ds.sample(ds.n_eval, rng), held, clean, ds)
    values = {k: {name: v["value"] for name, v in found.items()} for k, found in (("resampled", resampled),
                                                                                 ("fresh", fresh))}
    noise = fresh["memorisation_z"]["params"]["noise"]
    print(f"seed {seed}: memorisation_z resampled {values['resampled']['memorisation_z']:.2f}, fresh "
          f"{values['fresh']['memorisation_z']:.2f}; fresh mmd {values['fresh']['mmd']:.2e} (noise {noise:.1e})")
    assert t.memorised(values["resampled"]) and not t.memorised(values["fresh"])
    assert values["resampled"]["mmd_train"] < values["fresh"]["mmd_train"]  # the training-set comparison is fooled
    assert abs(values["fresh"]["mmd"]) < 3 * noise
    for name in ("mmd", "fd"):
        assert resampled[name]["params"]["reference"] == f"held-out sample of the true mixture, n = {ds.n_train}"
        assert resampled[f"{name}_train"]["params"]["reference"] == "clean training set"
    assert resampled["mmd_biased"]["params"] == {**resampled["mmd_train"]["params"], "estimator": "biased"}


class Resampler:
    """A generator-only "method" that draws its samples from given points with replacement."""

    has_generator, has_energy = True, False

    def __init__(self, x: np.ndarray):
        self.x = x

    def sample(self, n: int) -> torch.Tensor:
        return torch.as_tensor(self.x[torch.randint(len(self.x), (n,)).numpy()])


def test_curve_rows_compare_with_the_first_points_of_the_heldout_truth():
    ds = datasets.get("two_circle")
    clean = training_set(ds, "clean", 0)["clean"]
    row = ev.curve_metrics(Resampler(clean), clean, ds, 0, 100, 500)
    assert set(row) == {"hsr", "modes_covered", "mmd"}
    assert row["mmd"]["params"]["reference"] == "held-out sample of the true mixture, n = 500"
    with ev.curve_draws(ds.name, 0, 100):
        fake = Resampler(clean).sample(500).numpy()
    assert row["mmd"]["value"] == pytest.approx(m.mmd(fake, ev.heldout_points(ds, 0)[:500]), rel=1e-12)


def test_judge_writes_the_memorised_flag_into_runs_csv():
    runs = pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": name, "seed": 0, "status": status,
                          "failure": None, "iterations": 1000}
                         for name, status in (("copy", "ok"), ("fresh", "ok"), ("dem", "ok"), ("gone", "diverged"))])
    metrics = pd.DataFrame([{"dataset": "two_circle", "setting": "clean", "method": name, "seed": 0,
                             "metric": "memorisation_z", "value": z}
                            for name, z in (("copy", 3.8), ("fresh", 0.4), ("gone", 5.0))])
    rules = {"margin": 0.25, "window": 0.25, "tolerance": {}}
    out = t.judge(runs, metrics, pd.DataFrame(columns=["iteration"]), rules).set_index("method")
    assert out["memorised"].to_dict() == {"copy": True, "fresh": False, "dem": False, "gone": False}
