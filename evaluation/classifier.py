"""The small CNN classifier whose feature space gives the offline "MNIST FID" and whose class probabilities give
the MNIST Inception Score (`fid_classifier`, `is_classifier`, `class_coverage`; defined in evaluation/images.py).

Architecture: conv(C→32, 3×3)-ReLU-maxpool(2)-conv(32→64, 3×3)-ReLU-maxpool(2)-flatten-fc(→128)-ReLU, whose
128-d output are the `features`, then fc(128→n_classes) giving the logits. Images are float32 tensors or arrays
in [−1, 1] of shape (n, C, H, W).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

FEATURE_DIM = 128


class Classifier(nn.Module):
    """conv-pool-conv-pool-fc(128) trunk (`features`) and a linear head (`forward` gives the logits)."""

    def __init__(self, in_channels: int, n_classes: int, image_size: int):
        super().__init__()
        self.arch = {"in_channels": in_channels, "n_classes": n_classes, "image_size": image_size}
        side = ((image_size - 2) // 2 - 2) // 2  # two valid 3×3 convolutions, each followed by a 2×2 max-pool
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * side * side, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def _images(x) -> torch.Tensor:
    """float32 tensor of shape (n, C, H, W) with H = W."""
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float32)
    if x.ndim != 4 or x.shape[2] != x.shape[3]:
        raise ValueError(f"expected square images of shape (n, C, H, W), got {tuple(x.shape)}")
    return x


def train_classifier(x, y, n_classes: int, steps: int, batch_size: int, lr: float, seed: int = 0,
                     device: str = "cpu") -> Classifier:
    """Train a `Classifier` on images x (n, C, H, W) in [−1, 1] with integer labels y by Adam on the cross-entropy,
    `steps` minibatches of `batch_size` drawn uniformly with replacement. Deterministic given `seed`: the
    initialisation and the batches come from their own seeded generators, on one CPU thread (the process's thread
    count is restored afterwards)."""
    x, y = _images(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Classifier(x.shape[1], n_classes, x.shape[2]).to(device)
        batches = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(steps):
            idx = torch.randint(len(x), (batch_size,), generator=batches)
            loss = nn.functional.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


@torch.no_grad()
def _batched(fn, model: Classifier, x, batch: int) -> torch.Tensor:
    device = next(model.parameters()).device
    x = _images(x)
    return torch.cat([fn(x[i:i + batch].to(device)).cpu() for i in range(0, len(x), batch)])


def features(model: Classifier, x, batch: int = 500) -> np.ndarray:
    """The 128-d penultimate-layer activations (after the ReLU) of images x, as a float64 array (n, 128)."""
    return _batched(model.eval().features, model, x, batch).double().numpy()


def class_probs(model: Classifier, x, batch: int = 500) -> np.ndarray:
    """p(y|x) = softmax of the logits, as a float64 array (n, n_classes)."""
    return torch.softmax(_batched(model.eval(), model, x, batch).double(), 1).numpy()


def accuracy(model: Classifier, x, y, batch: int = 500) -> float:
    """Fraction of images whose most probable class is their label."""
    return float((class_probs(model, x, batch).argmax(1) == np.asarray(y)).mean())


def save_classifier(model: Classifier, path, meta: dict | None = None) -> None:
    """Write the state dict, the architecture arguments and `meta` (e.g. the test accuracy, the data) to `path`."""
    torch.save({"state_dict": model.state_dict(), "arch": model.arch, "meta": dict(meta or {})}, path)


def load_classifier(path) -> tuple[Classifier, dict]:
    """(model in eval mode on the CPU, meta) from a file written by `save_classifier`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classifier checkpoint {path} does not exist (train it first: snakemake rule "
                                "`classifier`, or python -m evaluation.classifier)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = Classifier(**ckpt["arch"])
        model.load_state_dict(ckpt["state_dict"])
    except Exception as err:  # truncated zip, pickle errors, missing keys, shape mismatch: all say "not usable"
        raise ValueError(f"classifier checkpoint {path} is corrupt or not written by save_classifier "
                         f"({type(err).__name__}: {err}); delete it and train again") from err
    return model.eval(), ckpt["meta"]


def main(argv=None) -> None:
    """python -m evaluation.classifier --data D.npz --out MODEL.pt --steps N --batch-size B --lr LR: train the
    classifier on the clean images of a stored image training set (datasets.make), record its held-out accuracy."""
    import argparse
    import json
    import sys

    from datasets.images import to_float
    from methods.harness.io import atomic_path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", required=True, help="a stored image training set (clean setting)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        with np.load(args.data) as f:
            data = {k: f[k] for k in f.files}
    except Exception as err:
        parser.exit(2, f"error: training set {args.data} is unreadable ({type(err).__name__}: {err}); delete it and "
                       f"rerun so it is rebuilt\n")
    keep = data["labels"] >= 0  # real images only
    x, y = to_float(data["x"][keep]), data["labels"][keep]
    n_classes = int(max(y.max(), data["y_test"].max())) + 1
    model = train_classifier(x, y, n_classes, args.steps, args.batch_size, args.lr, args.seed)
    meta = {"dataset": str(data["dataset"]), "test_accuracy": accuracy(model, to_float(data["x_test"]),
                                                                        data["y_test"]),
            "n_train": int(len(x)), "n_test": int(len(data["y_test"])), "steps": args.steps,
            "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    with atomic_path(args.out) as tmp:
        save_classifier(model, tmp, meta)
    print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
