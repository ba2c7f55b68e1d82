"""The resolved configuration (methods/harness/config.py, methods/harness/keys.py): command-line strings become
numbers, every method entry is checked against the method's declared parameters with one message, the merge order
of a run's hyper-parameters, and what the config hash covers."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

import methods
from methods.harness import config as suite_config
from methods.harness.config import ConfigError


def test_nested_command_line_values_become_numbers():
    # as Snakemake hands them over: `--config training='{threads: 4}' optim='{lr_implicit: 1e-3}'`
    cfg = suite_config.load("smoke", {"training": {"threads": "4"}, "optim": {"lr_implicit": "1e-3"},
                                      "entropy": {"dae_clip": "null"}, "stein": {"bandwidth": "median"},
                                      "methods": {"wgan_gp": {"gp_weight": "5"}, "egan": {"margin": "null"}}})
    assert cfg["training"]["threads"] == 4 and isinstance(cfg["training"]["threads"], int)
    assert cfg["optim"]["lr_implicit"] == 1e-3
    assert cfg["entropy"]["dae_clip"] is None and cfg["stein"]["bandwidth"] == "median"
    hp = suite_config.hparams(cfg, "wgan_gp", "two_circle")
    assert hp["gp_weight"] == 5.0 and hp["threads"] == 4
    assert suite_config.hparams(cfg, "egan")["margin"] is None


@pytest.mark.parametrize("overrides, message", [
    ({"training": {"batch_size": "0"}}, "config key training.batch_size: 0 is out of range"),
    ({"training": {"batch_size": "many"}}, "config key training.batch_size: 'many' is not of type 'integer'"),
    ({"methods": {"wgan_gp": {"gp_weight": "-1"}}}, "methods.wgan_gp.gp_weight: -1.0 is out of range"),
    ({"methods": {"wgan_gp": {"lr_implicit": 0}}}, "methods.wgan_gp.lr_implicit: 0 is out of range"),
    ({"methods": {"wgan_gp": {"penalty": "sideways"}}}, "methods.wgan_gp.penalty: 'sideways' is not valid"),
    ({"presets": {"released_code": {"joint_w": {"stein_updatez": "joint"}}}},
     "presets.released_code.joint_w: unknown key 'stein_updatez' (did you mean 'stein_updates'?)"),
    ({"images": {"hparams": {"image_widht": 1}}}, "images.hparams: unknown key 'image_widht'"),
])
def test_bad_values_get_one_message_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as err:
        suite_config.load("smoke", overrides)
    assert str(err.value).startswith(message), str(err.value)


def test_a_typo_in_a_method_entry_names_the_method_the_key_and_its_valid_keys():
    with pytest.raises(ConfigError) as err:
        suite_config.load("smoke", {"methods": {"wgan_gp": {"gp_wieght": "5"}}})
    text = str(err.value)
    assert text.startswith("methods.wgan_gp: unknown key 'gp_wieght' (did you mean 'gp_weight'?); valid keys of "
                           "wgan_gp: ")
    assert all(k in text for k in methods.get("wgan_gp").hyperparameters)  # its declared parameters …
    assert "lr_implicit" in text and "batch_size" in text  # … and the shared sections' keys


def test_hyperparameters_merge_in_order_shared_defaults_entry_images_preset():
    cfg = suite_config.load("default")
    declared = methods.get("joint_w").defaults()
    plain = suite_config.hparams(cfg, "joint_w", "two_circle")
    assert {k: plain[k] for k in declared} == {**declared, **(cfg["methods"]["joint_w"] or {})}
    assert plain["batch_size"] == cfg["training"]["batch_size"]
    image = suite_config.hparams(cfg, "joint_w", "mnist5k")  # images: hparams: over the entry
    assert image["batch_size"] == cfg["images"]["hparams"]["batch_size"] != plain["batch_size"]
    assert image["eval_samples"] == cfg["images"]["eval_samples"]
    preset = suite_config.hparams(cfg, "joint_w@released_code", "two_spiral")  # the preset last
    released = cfg["presets"]["released_code"]
    assert preset["gp_weight"] == released["by_dataset"]["two_spiral"]["gp_weight"]
    assert preset["stein_updates"] == released["joint_w"]["stein_updates"] != plain["stein_updates"]
    assert preset["noise_std"] == released["all"]["noise_std"]


def test_config_entries_hold_only_what_differs_from_the_declared_defaults():
    cfg = yaml.safe_load((suite_config.ROOT / "config" / "config.yaml").read_text())
    for name, entry in cfg["methods"].items():
        declared = methods.get(name).defaults()
        same = {k: v for k, v in (entry or {}).items() if k in declared and declared[k] == v}
        assert not same, f"methods.{name} repeats declared defaults: {same}"


def test_the_config_hash_covers_what_changes_the_numbers_only():
    cfg = suite_config.load("smoke")
    hp = suite_config.hparams(cfg, "wgan_gp", "two_circle")
    ident = ("two_circle", "clean", "wgan_gp", 0)
    base = suite_config.config_hash(hp, *ident)
    for key, value in (("threads", 4), ("device", "cuda"), ("checkpoint_every", 7), ("eval_every", 3)):
        assert suite_config.config_hash({**hp, key: value}, *ident) == base, key
    for key, value in (("gp_weight", 1.0), ("iterations", 31), ("batch_size", 50), ("curve_samples", 10)):
        assert suite_config.config_hash({**hp, key: value}, *ident) != base, key
    assert suite_config.config_hash(hp, "two_spiral", "clean", "wgan_gp", 0) != base
    assert suite_config.config_hash(hp, "two_circle", "clean", "wgan_gp", 1) != base


def test_the_resolved_file_is_rewritten_only_when_its_content_changes(tmp_path):
    cfg = suite_config.load("smoke")
    path = tmp_path / "config.yaml"
    assert suite_config.write(cfg, path)
    assert not suite_config.write(cfg, path)  # same content: the file (and its mtime) stays
    assert suite_config.read(path) == cfg
    assert suite_config.write({**cfg, "seeds": 2}, path) and suite_config.read(path)["seeds"] == 2


def test_the_snakefile_takes_its_output_names_from_light_modules():
    """Every Snakemake invocation (and on a cluster every job) parses the Snakefile: the names of its outputs come
    from modules that import no plotting, table or deep-learning library, and the evaluation step does not import
    the training runner."""
    from tests.conftest import ROOT

    probe = ("import sys; import datasets, evaluation.outputs, methods.harness.config; "
             "heavy = {'matplotlib', 'seaborn', 'pandas', 'torch'} & set(sys.modules); assert not heavy, heavy; "
             "import evaluation.evaluate; assert 'methods.harness.train' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_training_imports_no_evaluation_and_takes_its_curve_hooks_by_name(tmp_path):
    """The layers run one way: the training runner names its learning-curve scorer (`training: curves:`) instead
    of importing the evaluation; a wrong name gets one message naming the key."""
    from tests.conftest import ROOT

    probe = ("import sys; import methods.harness.train; "
             "up = sorted(m for m in sys.modules if m.split('.')[0] == 'evaluation'); assert not up, up")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    from methods.harness import train

    assert train.curve_hooks({"curves": None}) is None
    assert train.curve_hooks({"curves": "evaluation.evaluate"}).__name__ == "evaluation.evaluate"
    for name in ("no_such_module", "json"):
        with pytest.raises(ValueError, match=r"training\.curves: .* set it to evaluation\.evaluate"):
            train.curve_hooks({"curves": name})


def test_the_full_profile_holds_every_default_run_and_the_rest_of_the_paper():
    default, full = suite_config.load("default"), suite_config.load("full")
    assert set(suite_config.runs(default)) < set(suite_config.runs(full))  # every default run, unchanged
    extra = set(suite_config.runs(full)) - set(suite_config.runs(default))
    assert {r.dataset for r in extra} == {"two_circle", "two_spiral", "ring8", "grid25"}
    assert {"joint_js", "gan", "joint_w_nobridge", "egan", "dgm"} <= {r.method for r in extra}
    assert any(r.setting.startswith("contaminated") for r in extra) and any(r.setting.startswith("limited")
                                                                          for r in extra)
    assert full["training"] == default["training"] and full["optim"] == default["optim"]


def test_a_profile_that_extends_itself_gets_one_message(tmp_path):
    shutil.copytree(suite_config.ROOT / "config", tmp_path / "config")
    (tmp_path / "config" / "profiles" / "a.yaml").write_text("extends: b\nseeds: 2\n")
    (tmp_path / "config" / "profiles" / "b.yaml").write_text("extends: a\n")
    with pytest.raises(ConfigError, match=r"profile 'a' extends itself \(through a → b\)"):
        suite_config.load("a", root=tmp_path)


def test_a_profile_only_another_repository_has_is_validated_there(tmp_path):
    shutil.copytree(suite_config.ROOT / "config", tmp_path / "config")
    (tmp_path / "config" / "profiles" / "elsewhere.yaml").write_text("extends: smoke\nseeds: 2\n")
    assert suite_config.load("elsewhere", root=tmp_path)["seeds"] == 2  # validated against tmp_path, not ROOT


PUBLISHED = suite_config.ROOT / "results" / "published"
# Departures of a published profile from what it trains now that its PROVENANCE records, until it is published again:
# (profile, method, key): (published value, value now). An entry that no longer departs fails the test below, so
# it is removed when the profile is republished.
DEPARTURES = {("default", "wgan_gp", "lr_schedule"): ("linear", "constant")}  # stage 14 moved the GANs' schedule


@pytest.mark.parametrize("profile", sorted(p.name for p in PUBLISHED.iterdir()
                                           if (suite_config.ROOT / "config" / "profiles" / f"{p.name}.yaml").exists()
                                           and (p / "config.yaml").exists()) if PUBLISHED.exists() else [])
def test_a_published_profile_still_trains_what_it_published(profile):
    """A published sweep or study pins the values it ran with, so a later change of the recipe in config.yaml does
    not change what its profile trains: every run's hyper-parameters, resolved now from the profile, equal those of
    the configuration published beside its results (keys added to the suite since it ran aside). A profile published
    only in parts so far (evaluation/parts.py) has no such file yet; each part pins its runs' config hashes itself. A
    departure its PROVENANCE records (DEPARTURES) is allowed until the profile is published again."""
    published = suite_config.read(PUBLISHED / profile / "config.yaml")
    now = suite_config.load(profile)
    assert {(r.dataset, r.method) for r in suite_config.runs(now)} == \
        {(r.dataset, r.method) for r in suite_config.runs(published)}
    for dataset, method in sorted({(r.dataset, r.method) for r in suite_config.runs(now)}):
        then = suite_config.hparams(published, method, dataset)
        changed = {k: (then[k], v) for k, v in suite_config.hparams(now, method, dataset).items()
                   if then.get(k) is not None and then[k] != v}
        recorded = {k: d for (prof, m, k), d in DEPARTURES.items() if (prof, m) == (profile, method)}
        assert all(changed.get(k) == d for k, d in recorded.items()), \
            f"{profile}: {method}'s recorded departure {recorded} is no longer one ({changed}): remove it"
        changed = {k: d for k, d in changed.items() if k not in recorded}
        assert not changed, f"{profile}: {method} on {dataset} now trains with {changed} (published, now)"


def test_the_cost_estimate_is_the_profiles_runs_times_their_timed_rates(monkeypatch, capsys):
    import pandas as pd

    from methods.harness import bench

    timed = {}

    def fake_run(dataset, names, iterations, repeats, warmup, cfg, naive=True):  # a rate per variant, no timing
        assert not naive and dataset == "two_circle"
        timed.update({name: 10.0 + i for i, name in enumerate(names)})
        return pd.DataFrame({"method": names, "ms_per_iteration": [timed[n] for n in names]})

    monkeypatch.setattr(bench, "run", fake_run)
    cfg = suite_config.load("full")
    table = bench.estimate(cfg, "two_circle", 1, 1, 0).set_index("method")
    # the full grid's 2-D part: 15 methods × 4 datasets × 3 seeds, the released presets on Two-Circle and
    # Two-Spiral, Fig. 7's 9 noise ratios (wgan_gp, joint_w) and 8 training-set sizes (dem, joint_w), 3 seeds each
    assert table["runs"].sum() == 15 * 12 + 2 * 6 + 2 * 27 + 2 * 24
    assert table.loc["joint_w", "runs"] == 12 + 27 + 24 and table.loc["wgan_gp", "runs"] == 12 + 27
    assert table.loc["dem", "runs"] == 12 + 24 and table.loc["joint_w@released_code", "runs"] == 6
    iterations = cfg["training"]["iterations"]
    assert (table["iterations"] == iterations).all()
    for name, row in table.iterrows():
        assert row["cpu_hours"] == pytest.approx(row["runs"] * iterations * timed[name] / 3.6e6)
    bench.main(["--estimate", "--profile", "full", "--cores", "2"])
    out = capsys.readouterr().out
    total = table["cpu_hours"].sum()
    assert f"{total:.2f} CPU hours" in out and f"on 2 cores (jobs spread evenly): {total / 2:.2f} h" in out


@pytest.fixture
def gpus(monkeypatch):
    """torch here sees `gpus(k)` CUDA devices, whatever this machine has."""
    import torch

    def see(count: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    return see


@pytest.mark.parametrize("overrides, key, device", [
    ({"training": {"device": "cuda"}}, "training.device", "cuda"),
    ({"methods": {"joint_w": {"device": "cuda"}}}, "methods.joint_w.device", "cuda"),
    ({"images": {"hparams": {"device": "cuda:0"}}}, "images.hparams.device", "cuda:0"),  # smoke's MNIST fixture
])
def test_a_cuda_device_without_a_gpu_is_refused_when_the_jobs_run_here(gpus, overrides, key, device):
    gpus(0)
    with pytest.raises(ConfigError) as err:
        suite_config.load("smoke", overrides)
    assert str(err.value) == (f"{key}: {device!r}, but torch sees no CUDA device on this machine; set it to cpu, "
                              f"or run the jobs where the GPU is (a cluster executor: snakemake --profile "
                              f"profiles/slurm)")
    cfg = suite_config.load("smoke", overrides, local=False)  # a cluster executor's nodes have their own GPUs
    assert any(suite_config.hparams(cfg, r.method, r.dataset)["device"] == device for r in suite_config.runs(cfg))


def test_a_cuda_index_beyond_the_devices_is_refused_and_one_that_exists_is_not(gpus):
    gpus(2)
    with pytest.raises(ConfigError, match=r"^training.device: 'cuda:2', but torch sees 2 CUDA devices on this "
                                          r"machine \(cuda:0 to cuda:1\), so there is no cuda:2; set it to cpu"):
        suite_config.load("smoke", {"training": {"device": "cuda:2"}})
    assert suite_config.load("smoke", {"training": {"device": "cuda:1"}})["training"]["device"] == "cuda:1"


def test_the_runner_refuses_a_missing_gpu_with_the_same_message(gpus, tmp_path, capsys):
    from methods.harness import train

    gpus(0)
    hp = suite_config.hparams(suite_config.load("smoke", {"training": {"device": "cuda"}}, local=False),
                              "wgan_gp", "two_circle")
    with pytest.raises(ValueError, match=r"^device \(config training.device, .*\): 'cuda', but torch sees no CUDA "
                                         r"device on this machine; set it to cpu, or run the jobs where the GPU is"):
        train.train_runs([tmp_path / "d.npz"], "wgan_gp", hp, [tmp_path / "run"])
    # by hand from a resolved configuration: the message names the key that set the device
    from datasets import make

    make.main(["--dataset", "two_circle", "--out", str(tmp_path / "d.npz")])
    suite_config.write(suite_config.load("smoke", {"methods": {"wgan_gp": {"device": "cuda"}}}, local=False),
                       tmp_path / "config.yaml")
    with pytest.raises(SystemExit) as exit_:
        train.main(["--data", str(tmp_path / "d.npz"), "--method", "wgan_gp", "--run-dir", str(tmp_path / "run"),
                    "--config", str(tmp_path / "config.yaml")])
    assert exit_.value.code == 2 and not (tmp_path / "run").exists()
    assert capsys.readouterr().err == ("error: methods.wgan_gp.device: 'cuda', but torch sees no CUDA device on this "
                                       "machine; set it to cpu, or run the jobs where the GPU is (a cluster "
                                       "executor: snakemake --profile profiles/slurm)\n")


@pytest.mark.parametrize("argv, local", [
    (["bin/snakemake", "--cores", "2"], True),
    (["bin/snakemake", "-n", "--config", "profile=smoke"], True),  # a dry run plans the local executor's jobs
    (["snakemake/__main__.py", "-n", "--executor", "slurm", "--jobs", "4"], False),
    (["bin/snakemake", "--profile", str(suite_config.ROOT / "profiles" / "local")], True),
    (["bin/snakemake", "-n", "--profile", str(suite_config.ROOT / "profiles" / "slurm")], False),
    (["pytest", "--executor", "slurm"], True),  # not Snakemake's command line (its API): local
])
def test_the_snakefile_knows_whether_a_profile_runs_the_jobs_here(argv, local):
    from methods.harness.devices import local_executor

    assert local_executor(argv) is local
