"""evaluation/compare.py: the fresh numbers against the published ones, and where each side trained."""
import numpy as np
import pandas as pd

from evaluation import compare as cp


def metrics(values, method="joint_w"):
    return pd.DataFrame({"dataset": "two_circle", "setting": "clean", "method": method, "metric": "hsr",
                         "seed": range(len(values)), "value": values})


def test_identical_numbers_agree_with_zero_difference():
    table = cp.compare(metrics([0.7, 0.8, 0.75]), metrics([0.7, 0.8, 0.75]))
    assert table["verdict"].tolist() == ["agree"] and table["delta"].iloc[0] == 0


def test_the_welch_bound_separates_a_shift_beyond_the_seeds_spread():
    base = np.array([0.70, 0.71, 0.72])
    # sd 0.01 on each side, n = 3: bound = 2·√(2·0.01²/3) ≈ 0.0163
    assert cp.compare(metrics(base + 0.01), metrics(base))["verdict"].iloc[0] == "agree"
    assert cp.compare(metrics(base + 0.05), metrics(base))["verdict"].iloc[0] == "differ"
    assert cp.compare(metrics(base), metrics(base, "wgan_gp"))["verdict"].tolist() == ["not published", "not rerun"]


def test_the_table_says_where_each_side_trained(tmp_path):
    for side, machine in (("fresh", "CPU A, 2 cores, x86_64"), ("published", "CPU B, 16 cores, x86_64")):
        (tmp_path / side).mkdir()
        metrics([0.7, 0.8]).to_csv(tmp_path / side / "metrics.csv", index=False)
        pd.DataFrame({"method": ["joint_w"] * 2, "machine": [machine] * 2}).to_csv(tmp_path / side / "runs.csv",
                                                                                 index=False)
    table = cp.write(tmp_path / "fresh" / "metrics.csv", tmp_path / "published" / "metrics.csv", tmp_path / "cmp")
    assert set(table["machine_fresh"]) == {"CPU A, 2 cores, x86_64"}
    text = (tmp_path / "cmp.md").read_text()
    assert "fresh CPU A, 2 cores, x86_64; published CPU B, 16 cores, x86_64" in text and "Different machines" in text
    assert "Different machines" in cp.summary(tmp_path / "cmp.csv")
    assert "The same machine" in cp.machine_note("CPU A", "CPU A")
    (tmp_path / "published" / "runs.csv").unlink()
    assert cp.machines(cp.runs_beside(tmp_path / "published" / "metrics.csv")) == "not recorded"


def test_cells_trained_with_another_configuration_are_named(tmp_path):
    for side, hashes in (("fresh", {"joint_w": "aaa", "wgan_gp": "new"}), ("published", {"joint_w": "aaa",
                                                                                         "wgan_gp": "old"})):
        (tmp_path / side).mkdir()
        pd.concat([metrics([0.7, 0.8]), metrics([0.6, 0.7], "wgan_gp")]).to_csv(tmp_path / side / "metrics.csv",
                                                                               index=False)
        pd.DataFrame({"dataset": "two_circle", "setting": "clean", "method": list(hashes), "machine": "CPU A",
                      "config_hash": list(hashes.values())}).to_csv(tmp_path / side / "runs.csv", index=False)
    table = cp.write(tmp_path / "fresh" / "metrics.csv", tmp_path / "published" / "metrics.csv", tmp_path / "cmp")
    assert dict(zip(table["method"], table["same_config"])) == {"joint_w": True, "wgan_gp": False}
    note = "Trained with another configuration than the published runs (config hash): wgan_gp on two_circle/clean;"
    assert note in (tmp_path / "cmp.md").read_text() and note in cp.summary(tmp_path / "cmp.csv")
    assert "joint_w on" not in cp.summary(tmp_path / "cmp.csv")
