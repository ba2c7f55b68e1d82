"""Published parts (evaluation/parts.py): which runs a part gives a DAG, and one clear message for every part that
cannot be merged. The end-to-end path (a part published by one clone, used by a fresh one without retraining, and
refused under other training code) is tests/test_dag.py's."""
from __future__ import annotations

import json
import shutil

import pytest

from evaluation import parts
from evaluation.outputs import evaluation_version
from methods.harness import config as suite_config
from methods.harness.code import training_code, training_version


@pytest.fixture(scope="module")
def cfg():
    return suite_config.load("smoke")


def entry(cfg, run, **over) -> dict:
    """A part.json run entry as `publish` writes it for `run` under this checkout's code."""
    hp = suite_config.hparams(cfg, run.method, run.dataset)
    return {"dataset": run.dataset, "setting": run.setting, "method": run.method, "seed": run.seed, "status": "ok",
            "config_hash": suite_config.config_hash(hp, run.dataset, run.setting, run.method, run.seed),
            "train_code": training_version(), "evaluation_code": evaluation_version(), "machine": "test",
            "train_commit": "test", **over}


def write_part(folder, name, runs: list[dict]) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / parts.PART).write_text(json.dumps({"profile": "smoke", "sitting": {"commit": "abc"},
                                                        "runs": runs}))


def test_a_part_gives_the_dag_its_runs_and_leaves_aside_runs_the_profile_does_not_ask_for(cfg, tmp_path):
    first, second = suite_config.runs(cfg)[:2]
    stranger = entry(cfg, first, method="not_in_this_profile")
    write_part(tmp_path, "sitting1", [entry(cfg, first), stranger])
    write_part(tmp_path, "sitting2", [entry(cfg, second)])
    assert parts.covered(tmp_path, cfg) == {first: "sitting1", second: "sitting2"}
    assert parts.covered(tmp_path / "none", cfg) == {}  # no parts folder: nothing held


@pytest.mark.parametrize("over, message", [
    ({"config_hash": "0" * 16}, r"config hash 0{16}, but this configuration gives that run"),
    ({"train_code": "0" * 12}, r"trained by other training code \(fingerprint 0{12}; this checkout's is"),
    ({"evaluation_code": "0" * 12}, r"evaluated by other evaluation code"),
])
def test_a_part_made_otherwise_is_refused_with_the_fix(cfg, tmp_path, over, message):
    run = suite_config.runs(cfg)[0]
    write_part(tmp_path, "sitting1", [entry(cfg, run, **over)])
    with pytest.raises(parts.PartError, match=message) as err:
        parts.covered(tmp_path, cfg)
    assert "sitting1" in str(err.value) and "git rm -r" in str(err.value) and "abc" in str(err.value)


def test_a_run_in_two_parts_and_a_corrupt_part_are_refused(cfg, tmp_path):
    run = suite_config.runs(cfg)[0]
    write_part(tmp_path, "sitting1", [entry(cfg, run)])
    write_part(tmp_path, "sitting2", [entry(cfg, run)])
    with pytest.raises(parts.PartError, match=r"both hold .*remove one of them"):
        parts.covered(tmp_path, cfg)
    (tmp_path / "sitting2" / parts.PART).write_text("{not json")
    with pytest.raises(parts.PartError, match=r"sitting2: part.json is not valid JSON .*git checkout"):
        parts.covered(tmp_path, cfg)


def test_every_committed_part_merges_with_this_checkout():
    """The parts committed under results/published/ (a reproduction over sittings, PROVENANCE) stay usable: every run
    they hold is one their profile asks for, with the config hash it now gives the run, trained and evaluated by this
    checkout's code. A change to the training or evaluation code, the recipe or the grid fails here, naming the part,
    instead of in a user's `snakemake --config profile=full`."""
    folders = sorted((parts.ROOT / "results" / "published").glob("*/parts"))
    if not folders:
        pytest.skip("no published parts in this checkout")
    for folder in folders:
        found = parts.read(folder)
        cfg = suite_config.load(next(iter(found.values()))["profile"])
        held = parts.covered(folder, cfg)
        assert len(held) == sum(len(part["runs"]) for part in found.values()), folder  # none left aside
        assert set(held) <= set(suite_config.runs(cfg))


# What the root edit changed in methods/harness/config.py, as (now, before), docstrings aside: the repository root is
# passed on to the validation (`check`), so that a profile that only another repository holds is validated there.
CHECK_ROOT = [
    ("return resolve(cfg, validate, local, root)", "return resolve(cfg, validate, local)"),
    ("def resolve(cfg: dict, validate: bool = True, local: bool = True, root: Path = ROOT) -> dict:",
     "def resolve(cfg: dict, validate: bool = True, local: bool = True) -> dict:"),
    ("check(cfg, local, root)", "check(cfg, local)"),
    ("def check(cfg: dict, local: bool = True, root: Path = ROOT) -> None:",
     "def check(cfg: dict, local: bool = True) -> None:"),
    ('profile_file(cfg["profile"], root)', 'profile_file(cfg["profile"])'),
]


def test_the_full_parts_code_differs_from_this_only_in_validation(tmp_path, request):
    """Why SAME_NUMBERS accepts the parts of `full` trained under fingerprint 374a3bb163bf: undoing `CHECK_ROOT` in a
    copy of this checkout's training code gives exactly that fingerprint, so the edit is the whole difference; and
    the edit is in `check`, which only raises or passes: every profile loads to the same configuration with and
    without validation, so no run is configured, and no number computed, otherwise."""
    for name in training_code():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(parts.ROOT / name, tmp_path / name)
    config_py = tmp_path / "methods" / "harness" / "config.py"
    text = config_py.read_text()
    for now, before in CHECK_ROOT:
        assert text.count(now) == 1, now
        text = text.replace(now, before)
    config_py.write_text(text)
    (old,) = [fingerprint for fingerprint, test in parts.SAME_NUMBERS.items()
              if test.endswith(f"::{request.node.name}")]
    assert training_version(tmp_path) == old != training_version()
    validated = []
    for profile in suite_config.profiles():
        try:
            checked = suite_config.load(profile)
        except suite_config.ConfigError:  # refused here (e.g. `paper` without MNIST): refusing configures no run
            continue
        assert checked == suite_config.load(profile, validate=False), profile
        validated.append(profile)
    assert {"smoke", "default", "full"} <= set(validated)
