"""The authors' released 2-D models (github.com/qitianwu/SteinBridging: Joint-W and Joint-JS on Two-Circle and
Two-Spiral), loaded into the suite's networks and scored by the suite's own evaluation: the only numbers of the
authors' that this repository can set beside its own (tables/paper.md). Their weights are not part of the suite; give
the folder that holds them (`<dataset>_data.npz`, `<dataset>_<model>_weights.npz`, converted from the released
TensorFlow checkpoints: dense layers as `kernel` (in × out) and `bias`).

    python -m evaluation.released --reference-dir DIR [--out evaluation/released_models.csv]

writes one row per (dataset, method, metric): HSR of 2000 / 5000 generated points (seed 0), KLD on the released
training set's grid and the modes-vs-box AUC, each with the commit that measured it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import datasets
from evaluation.evaluate import energy_metrics, generator_metrics, heldout_points
from evaluation.outputs import RELEASED_SCORES
from methods.core.nets import Energy, Generator
from methods.harness.io import atomic_path, git_commit

MODELS = [("two_circle", "joint_w"), ("two_circle", "joint_js"), ("two_spiral", "joint_w"), ("two_spiral", "joint_js")]
METRICS = ("hsr", "kld", "auc")


class Released(torch.nn.Module):
    """A released model in the suite's networks: generator G (z ~ N(0, 10² I), 4-d; tanh hidden layers on
    Two-Circle, leaky ReLU on Two-Spiral) and energy E = Σ_k sigmoid(h_k) (sigmoid_experts, tanh hidden)."""
    has_generator = has_energy = True

    def __init__(self, weights, dataset: str):
        super().__init__()
        hp = {"hidden": 128, "layers": 2, "noise_dim": 4, "noise_std": 10.0, "experts": 4,
              "generator_activation": "tanh" if dataset == "two_circle" else "leaky_relu",
              "energy_activation": "tanh", "energy_head": "sigmoid_experts", "fused_gradients": True}
        self.generator, self.energy_net = Generator(hp, 2), Energy(hp, 2)
        for prefix, net in (("g", self.generator.net), ("p", self.energy_net.net)):
            for i, linear in enumerate(list(net)[0::2], start=1):
                linear.weight.data = torch.as_tensor(weights[f"{prefix}.l{i}.kernel"].T.copy())
                linear.bias.data = torch.as_tensor(weights[f"{prefix}.l{i}.bias"])

    def energy(self, x):
        return self.energy_net(x)


def score(reference_dir, dataset: str, model: str) -> dict:
    """{metric: value} of one released model: its samples (seed 0) and its energy, against the released training
    set (the grid is built from it, as the authors did)."""
    reference_dir = Path(reference_dir)
    data = np.load(reference_dir / f"{dataset}_data.npz")
    released = Released(np.load(reference_dir / f"{dataset}_{model}_weights.npz"), dataset)
    ds = datasets.get(dataset)
    torch.manual_seed(0)
    with torch.no_grad():
        samples = released.generator(ds.n_eval).double().numpy()
    clean = data["train_samples"]
    found = {**generator_metrics(samples, heldout_points(ds, 0), clean, ds),
             **energy_metrics(released, clean, ds, seed=0)}
    return {m: found[m]["value"] for m in METRICS}


def table(reference_dir) -> pd.DataFrame:
    commit = git_commit()
    return pd.DataFrame([{"dataset": d, "method": m, "metric": k, "value": v,
                          "source": "the authors' released model, scored by evaluation/released.py", "commit": commit}
                         for d, m in MODELS for k, v in score(reference_dir, d, m).items()])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-dir", required=True, help="folder with the released data and weights")
    parser.add_argument("--out", default=str(RELEASED_SCORES))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    found = table(args.reference_dir)
    with atomic_path(args.out) as tmp:
        found.to_csv(tmp, index=False)
    print(found.to_string(index=False))


if __name__ == "__main__":
    main()
