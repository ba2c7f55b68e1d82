"""Published parts: one reproduction trained over several sittings (docs/usage.md, "A profile over sittings").

A sitting trains what it can of a profile's runs. `publish` writes the runs it finished, in compact form, as one
part, results/published/<profile>/parts/<name>/: their rows of metrics.csv, runs.csv (before the trained verdicts)
and curves.csv, their figure data, and part.json (the sitting: commit, start and end, machine, that hour's bench
lines; every run with its config hash and the fingerprints of the code that trained and evaluated it). Never
checkpoints.

A later DAG of the profile, on this clone or a fresh one, reads the parts when the Snakefile is parsed (`covered`):
a run that a part holds is neither trained nor evaluated again, and the aggregate takes its rows from the part. A
part is used only as it was made. Each of its runs must have the configuration hash that the profile now gives the
run, and have been trained and evaluated by this checkout's training and evaluation code (their fingerprints:
methods/harness/code.py, evaluation/outputs.py); otherwise the DAG stops with a message naming the part and the
fix. Numbers from different code are never merged: a change to the training code that leaves the numbers unchanged
is accepted only by adding the old fingerprint to SAME_NUMBERS, with the test that shows it.

    python -m evaluation.parts publish --config results/full/config.yaml --dir results/full --name sitting1 \\
        [--start 2026-12-07T02:30Z --end … --bench bench.txt]     # what results/full/ finished → a new part
    python -m evaluation.parts list --config results/full/config.yaml   # the sittings, as PROVENANCE lists them

The Snakefile imports this module to plan the DAG, so only `load` and `publish` import pandas.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evaluation.outputs import ROOT, evaluation_version
from methods.harness.code import training_version
from methods.harness import config as suite_config
from methods.harness.config import Run

PART = "part.json"
FILES = ("metrics.csv", "runs.csv", "curves.csv", "figure_data.npz")
# Training-code fingerprints whose runs the current code reproduces number for number, each with the test that
# showed it: {"old fingerprint": "tests/…::test_…"}.
SAME_NUMBERS: dict[str, str] = {
    # every part of `full` (sittings 1-14): since then, config `check` validates a profile against the repository
    # that holds it (its `root`), a change to validation only
    "374a3bb163bf": "tests/test_parts.py::test_the_full_parts_code_differs_from_this_only_in_validation",
}


class PartError(ValueError):
    """A published part that this checkout cannot merge; the message names the part and the fix."""


def parts_dir(profile: str, root: Path = ROOT) -> Path:
    return root / "results" / "published" / profile / "parts"


def read(parts: Path) -> dict[str, dict]:
    """{part name: part.json} of every part below `parts` (none when the folder does not exist)."""
    found = {}
    for path in sorted(Path(parts).glob(f"*/{PART}")):
        try:
            found[path.parent.name] = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise PartError(f"published part {path.parent}: {PART} is not valid JSON ({err}); restore it with "
                            f"`git checkout -- {path}`, or remove the part's folder to train its runs again") from None
    return found


def run_of(entry: dict) -> Run:
    return Run(entry["dataset"], entry["setting"], entry["method"], int(entry["seed"]))


def covered(parts: Path, cfg: dict, root: Path = ROOT) -> dict[Run, str]:
    """{run: the part holding it} for the profile's runs that published parts hold, after checking that each can be
    merged with what this checkout would train; a part's run that the profile does not ask for is left aside."""
    found = read(parts)
    if not found:
        return {}
    expected = set(suite_config.runs(cfg))
    training, evaluation = training_version(root), evaluation_version(root)
    held: dict[Run, str] = {}
    for name, part in found.items():
        where = f"published part {Path(parts) / name}"
        fix = (f"remove the part's folder (git rm -r {Path(parts) / name}) to train its runs again, or check out "
               f"the commit that made it ({part.get('sitting', {}).get('commit', 'part.json `sitting`')})")
        for entry in part["runs"]:
            run = run_of(entry)
            if run not in expected:
                continue
            if run in held:
                raise PartError(f"{where} and published part {held[run]} both hold {run.path}: remove one of them")
            hp = suite_config.hparams(cfg, run.method, run.dataset)
            want = suite_config.config_hash(hp, run.dataset, run.setting, run.method, run.seed)
            if entry["config_hash"] != want:
                raise PartError(f"{where} holds {run.path} trained with config hash {entry['config_hash']}, but this "
                                f"configuration gives that run {want} (its hyper-parameters, iterations or data "
                                f"changed since): {fix}")
            if entry["train_code"] != training and entry["train_code"] not in SAME_NUMBERS:
                raise PartError(f"{where} holds {run.path} trained by other training code (fingerprint "
                                f"{entry['train_code']}; this checkout's is {training}, methods/harness/code.py "
                                f"`training_version`), and training is not merged across code: {fix}")
            if entry["evaluation_code"] != evaluation:
                raise PartError(f"{where} holds {run.path} evaluated by other evaluation code (fingerprint "
                                f"{entry['evaluation_code']}; this checkout's is {evaluation}), and its checkpoint "
                                f"is not published to evaluate it again: {fix}")
            held[run] = name
    return held


def runs_of(frame) -> list[Run]:
    """The run of each row of a table with dataset, setting, method and seed columns."""
    return [Run(d, s, m, int(k)) for d, s, m, k in frame[["dataset", "setting", "method", "seed"]].itertuples(
        index=False)]


def figure_keys(keys, runs) -> list[str]:
    """The keys of figure data that belong to `runs` (evaluation/aggregate.py `figure_key`:
    kind/dataset/method[/…])."""
    mine = {(r.dataset, r.method) for r in runs}
    return [k for k in keys if tuple(k.split("/")[1:3]) in mine]


def load(parts: Path, held: dict[Run, str]) -> dict:
    """The rows of the runs `held` ({run: part}) from their parts: metrics, runs (without the trained verdicts),
    curves and figure data, as evaluation/aggregate.py collects them from run folders."""
    import numpy as np
    import pandas as pd

    out = {"metrics": [], "runs": [], "curves": [], "figure_data": {}}
    for name in sorted(set(held.values())):
        folder = Path(parts) / name
        mine = {run for run, part in held.items() if part == name}
        for key in ("metrics", "runs", "curves"):
            frame = pd.read_csv(folder / f"{key}.csv", dtype={"setting": str})
            out[key].append(frame[[run in mine for run in runs_of(frame)]])
        with np.load(folder / "figure_data.npz") as f:
            out["figure_data"].update({k: f[k] for k in figure_keys(f.files, mine)})
    return {k: (pd.concat(v, ignore_index=True) if isinstance(v, list) else v) for k, v in out.items()}


def publish(root: Path, cfg: dict, parts: Path, name: str, sitting: dict) -> list[Run]:
    """Write the runs of results folder `root` that are finished (trained and evaluated by this checkout's code)
    and held by no part yet as the new part `parts/name`; returns them."""
    import numpy as np
    import pandas as pd

    from evaluation.aggregate import gather
    from methods.harness.io import atomic_path, write_json

    folder = Path(parts) / name
    if folder.exists():
        raise PartError(f"published part {folder} exists already: give the sitting another --name")
    held = covered(parts, cfg)
    training, evaluation = training_version(), evaluation_version()
    todo = [r for r in suite_config.runs(cfg) if r not in held]
    rows, records, curves, figure_data = gather(root, cfg, todo, held)
    metrics, runs = pd.DataFrame(rows), pd.DataFrame(records)
    if not len(runs):
        return []
    evaluated = metrics.groupby(["dataset", "setting", "method", "seed"])["evaluation_version"].first() \
        if len(metrics) else pd.Series(dtype=object)
    done, skipped = [], []
    for run, rec in zip(runs_of(runs), runs.to_dict("records")):
        version = evaluated.get((run.dataset, run.setting, run.method, run.seed))
        if rec["status"] == "missing":
            continue
        if rec.get("train_code") != training or version != evaluation:
            skipped.append(f"{run.path} (trained by {rec.get('train_code')}, evaluated by {version}; this "
                           f"checkout: {training}, {evaluation})")
            continue
        done.append(run)
    for line in skipped:
        print(f"not published, made by other code: {line}", file=sys.stderr)
    if not done:
        return []
    keep = set(done)
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=list(runs.columns[:4]))
    folder.mkdir(parents=True)
    for key, frame in (("metrics", metrics), ("runs", runs), ("curves", curves)):
        with atomic_path(folder / f"{key}.csv") as tmp:
            frame[[run in keep for run in runs_of(frame)]].to_csv(tmp, index=False)
    with atomic_path(folder / "figure_data.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **{k: figure_data[k] for k in figure_keys(figure_data, keep)})
    finished = runs[[run in keep for run in runs_of(runs)]]
    write_json(folder / PART, {
        "profile": cfg["profile"], "sitting": sitting,
        "runs": [{"dataset": r["dataset"], "setting": r["setting"], "method": r["method"], "seed": int(r["seed"]),
                  "status": r["status"], "config_hash": r["config_hash"], "train_code": r["train_code"],
                  "evaluation_code": evaluation, "machine": r["machine"], "train_commit": r["train_commit"]}
                 for r in finished.to_dict("records")]})
    return done


def sittings(parts: Path) -> str:
    """The parts as PROVENANCE lists its sittings: name, commit, start, end, machine, runs, bench lines."""
    lines = []
    for name, part in read(parts).items():
        s = part.get("sitting", {})
        machines = sorted({r.get("machine") or "?" for r in part["runs"]})
        statuses = [r["status"] for r in part["runs"]]
        lines.append(f"- {name}: commit {s.get('commit', '?')}, {s.get('start', '?')} to {s.get('end', '?')}, "
                     f"{len(statuses)} runs ({statuses.count('ok')} ok, {statuses.count('diverged')} diverged) on "
                     f"{'; '.join(machines)}")
        lines += [f"    bench: {b}" for b in s.get("bench", [])]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["publish", "list"])
    suite_config.add_arguments(parser)
    parser.add_argument("--parts", type=Path, default=None,
                        help="the parts folder (default: results/published/<profile>/parts)")
    parser.add_argument("--name", help="publish: the new part's name (the sitting's)")
    parser.add_argument("--start", default=None, help="publish: when the sitting started (UTC)")
    parser.add_argument("--end", default=None, help="publish: when it ended (UTC)")
    parser.add_argument("--bench", type=Path, default=None,
                        help="publish: a file of `python -m methods.harness.bench` lines from the sitting's hour")
    args = parser.parse_args(argv)
    cfg, out = suite_config.from_arguments(args)
    parts = args.parts or parts_dir(cfg["profile"])
    try:
        if args.action == "list":
            print(sittings(parts))
            return
        if not args.name:
            parser.error("publish needs --name (the sitting's name, e.g. sitting1)")
        from methods.harness.io import git_commit

        bench = [line.strip() for line in args.bench.read_text().splitlines() if line.strip()] if args.bench else []
        done = publish(out, cfg, parts, args.name, {"commit": git_commit(), "start": args.start, "end": args.end,
                                                     "bench": bench})
    except PartError as err:
        sys.exit(f"error: {err}")
    print(f"{len(done)} runs published as {parts / args.name}" if done else
          "no finished run to publish (every finished run is in a part already, or made by other code)")


if __name__ == "__main__":
    main()
