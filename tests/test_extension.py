"""README's "Adding a method" run for real: its example method, verbatim, is one file and one config entry, and the
whole DAG trains, evaluates, tabulates and draws it (in a temporary copy of the repository)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import copy_repo, snakemake

pytestmark = pytest.mark.slow  # one DAG


def readme_example() -> tuple[str, str]:
    """The example method of README's "Adding a method": (file name, code)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    match = re.search(r"```python\n# methods/(\w+\.py)\n(.*?)```", readme, re.S)
    assert match, "README's 'Adding a method' lost its example method"
    return match.group(1), match.group(2)


EXTENSION = {  # the new method on the synthetic table's datasets, a few iterations
    "training": {"iterations": 20, "checkpoint_every": 10, "eval_every": 10, "curve_samples": 100},
    "seeds": 1,
    "experiments": {"synthetic": {"datasets": ["two_circle", "two_spiral"], "settings": ["clean"],
                                  "methods": ["wgan_pull"]}},
}


def test_new_method_needs_one_file_and_one_config_entry(tmp_path):
    """A new method is one file and one config entry (README's example, verbatim): the whole DAG trains, evaluates,
    tabulates and draws it."""
    import yaml

    repo = copy_repo(tmp_path / "repo")
    name, code = readme_example()
    assert name == "wgan_pull.py"
    (repo / "methods" / name).write_text(code)
    config = repo / "config" / "config.yaml"
    text = config.read_text()
    assert text.count("\nmethods:\n") == 1
    config.write_text(text.replace("\nmethods:\n", "\nmethods:\n  wgan_pull: {pull: 0.25}\n"))
    (repo / "config" / "profiles" / "extension.yaml").write_text(yaml.safe_dump(EXTENSION))
    proc = snakemake(["--cores", "2", "--config", "profile=extension"], repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = repo / "results" / "extension"
    status = json.loads((out / "runs/two_circle/clean/wgan_pull/seed0/train.json").read_text())
    assert status["status"] == "ok" and status["hparams"]["pull"] == 0.25
    metrics = pd.read_csv(out / "metrics.csv")
    mine = metrics[metrics["method"] == "wgan_pull"]
    assert set(mine["dataset"]) == {"two_circle", "two_spiral"} and {"hsr", "mmd", "auc"} <= set(mine["metric"])
    synthetic = pd.read_csv(out / "tables" / "synthetic.csv", index_col=0)
    assert "wgan_pull" in synthetic.index and "wgan_pull" in (out / "tables" / "synthetic.md").read_text()
    curves, runs = pd.read_csv(out / "curves.csv"), pd.read_csv(out / "runs.csv")
    assert curves.loc[curves["method"] == "wgan_pull", "mmd"].notna().all()
    from evaluation.figures import curves_figure

    figure = curves_figure(curves, runs)  # the curves figure groups methods by kind: wgan_pull is drawn as joint
    legends = {ax.get_title(): [t.get_text() for t in ax.get_legend().get_texts()]
               for ax in figure.axes if ax.get_legend() is not None}
    assert [title for title, labels in legends.items() if "wgan_pull" in labels] == \
        ["Two-Spiral: joint methods"], legends
    assert (out / "figures" / "curves.png").stat().st_size > 1000
