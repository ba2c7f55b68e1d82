"""The authors' four released 2-D models (STEIN_REFERENCE_DIR, its README) evaluated with the suite's networks and
metrics land in the README's table: HSR, KL(true ‖ model) on the released grid, and the modes-vs-box AUC."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import datasets
from evaluation.evaluate import energy_metrics, generator_metrics, heldout_points
from methods.core.nets import Energy, Generator

# README table: (HSR, KL, AUC) as published (a single value or a range). Accepted: that range widened by the
# README's sampling noise on HSR and AUC (±0.01) plus the rounding of its last digit (±0.005); KL, computed on the
# released grid without sampling, by the rounding alone. Measured here (seed 0): HSR 0.846 / 0.880 / 0.907 / 0.712,
# KL 1.027 / 1.104 / 0.400 / 0.638, AUC 0.971 / 0.953 / 0.796 / 0.805.
PUBLISHED = {
    ("two_circle", "joint_w"): ((0.84, 0.84), (1.03, 1.03), (0.95, 0.96)),
    ("two_circle", "joint_js"): ((0.87, 0.87), (1.10, 1.10), (0.95, 0.96)),
    ("two_spiral", "joint_w"): ((0.91, 0.91), (0.36, 0.40), (0.79, 0.81)),
    ("two_spiral", "joint_js"): ((0.71, 0.72), (0.64, 0.66), (0.79, 0.81)),
}
SLACK = (0.015, 0.005, 0.015)


class Released(torch.nn.Module):
    """A released model in the suite's networks: generator G and energy E = Σ_k sigmoid(h_k) (sigmoid_experts)."""
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


@pytest.mark.parametrize("dataset,model", list(PUBLISHED))
def test_released_model_lands_in_the_published_table(reference_dir, dataset, model):
    data = np.load(reference_dir / f"{dataset}_data.npz")
    released = Released(np.load(reference_dir / f"{dataset}_{model}_weights.npz"), dataset)
    ds = datasets.get(dataset)
    torch.manual_seed(0)
    with torch.no_grad():
        samples = released.generator(ds.n_eval).double().numpy()
    clean = data["train_samples"]  # the grid is built from the released training set, as the authors did
    found = {**generator_metrics(samples, heldout_points(ds, 0), clean, ds),
             **energy_metrics(released, clean, ds, seed=0)}
    for metric, (lo, hi), slack in zip(("hsr", "kld", "auc"), PUBLISHED[(dataset, model)], SLACK):
        assert lo - slack <= found[metric]["value"] <= hi + slack, (metric, found[metric]["value"], (lo, hi))
