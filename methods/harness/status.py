"""The DAG's training progress, read from the jobs' logs (their `progress` lines, methods/harness/progress.py):

    python -m methods.harness.status results/<profile> [--cores 2]

One line per method (runs that earlier sittings published as parts, then jobs finished / running / waiting, and its
measured rate), then the iterations done of all training and the time left: each running job's own estimate, and
the waiting jobs' iterations at their method's measured rate (or the mean rate of all jobs where the method has
none yet), spread over `--cores` job slots. Evaluation, tables and figures come on top (a few minutes for a 2-D
profile). Runs that a published part holds (results/published/<profile>/parts/, evaluation/parts.py) get no job:
they count as done, and the DAG checks the parts themselves when it starts.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from methods.harness import config as suite_config
from methods.harness.progress import PREFIX, duration

LINE = re.compile(PREFIX + r".*?: (\d+)/(\d+) \(\d+%\), ([\d.]+) it/s")


def last_progress(log: Path) -> tuple[int, int, float] | None:
    """(iteration, total, iterations per second) of a log's last progress line; None without one."""
    if not log.exists():
        return None
    found = None
    for line in log.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if m:
            found = int(m[1]), int(m[2]), float(m[3])
    return found


def published(root: Path, cfg: dict) -> set:
    """The profile's runs that its published parts hold (their part.json files, beside results/published/<profile>/
    of the repository that holds `root`)."""
    parts = root.parent / "published" / root.name / "parts"
    held = {suite_config.Run(e["dataset"], e["setting"], e["method"], int(e["seed"]))
            for path in sorted(parts.glob("*/part.json")) for e in json.loads(path.read_text())["runs"]}
    return held & set(suite_config.runs(cfg))


def status(root: Path, cores: int) -> str:
    cfg = suite_config.read(root / "config.yaml")
    held = published(root, cfg)
    rows = {m: {"published": 0, "done": 0, "running": 0, "waiting": 0}
            for m in dict.fromkeys(r.method for r in suite_config.runs(cfg))}
    rates, left_running, waiting, done_it, total_it = {}, [], [], 0, 0
    for run in held:
        rows[run.method]["published"] += 1
        iterations = suite_config.hparams(cfg, run.method, run.dataset)["iterations"]
        total_it += iterations
        done_it += iterations
    for job in suite_config.jobs(cfg, skip=held):
        iterations = suite_config.hparams(cfg, job.method, job.runs[0].dataset)["iterations"]
        total_it += iterations * len(job.runs)
        row = rows[job.method]
        base = root / "jobs" / job.name
        seen = last_progress(base.with_name(base.name + ".log"))
        if base.with_name(base.name + ".json").exists():
            row["done"] += 1
            done_it += iterations * len(job.runs)
            if seen:
                rates.setdefault(job.method, []).append(seen[2])
        elif seen:
            it, total, rate = seen
            row["running"] += 1
            done_it += it * len(job.runs)
            rates.setdefault(job.method, []).append(rate)
            left_running.append((total - it) / rate if rate > 0 else 0.0)
        else:
            row["waiting"] += 1
            waiting.append((job.method, iterations))
    every = [r for rs in rates.values() for r in rs]
    mean_rate = sum(every) / len(every) if every else None
    left_waiting = [it / (sum(rates[m]) / len(rates[m]) if m in rates else mean_rate) for m, it in waiting] \
        if mean_rate else []
    jobs = sum(r["done"] + r["running"] + r["waiting"] for r in rows.values())
    lines = [f"{root}: {sum(r['done'] for r in rows.values())} of {jobs} training jobs finished"
             + (f"; {len(held)} runs published by earlier sittings (parts)" if held else "")]
    for method, row in rows.items():
        rate = f", {sum(rates[method]) / len(rates[method]):.1f} it/s" if method in rates else ""
        parts = f"{row['published']} published, " if held else ""
        lines.append(f"  {method:28s} {parts}{row['done']} done, {row['running']} running, {row['waiting']} "
                     f"waiting{rate}")
    lines.append(f"iterations: {done_it}/{total_it} ({done_it / max(total_it, 1):.0%})")
    if waiting and not mean_rate:
        lines.append("time left: unknown until a job reports its rate")
    else:
        busy = sorted(left_running + left_waiting, reverse=True)
        slots = [0.0] * max(cores, 1)  # the longest first, each to the slot free soonest
        for seconds in busy:
            slots[slots.index(min(slots))] += seconds
        lines.append(f"training time left on {cores} cores: about {duration(max(slots))}")
        guessed = sum(m not in rates for m, _ in waiting)
        if guessed:  # methods differ in cost per iteration by 10x: the mean rate is a rough guess for them
            lines.append(f"  ({guessed} waiting jobs of methods not timed yet count at the mean rate of all jobs; "
                         f"`python -m methods.harness.bench --estimate --profile {cfg['profile']}` times them)")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="the profile's results folder, results/<profile>")
    parser.add_argument("--cores", type=int, default=2, help="job slots (snakemake --cores)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not (root / "config.yaml").exists():
        parser.exit(2, f"error: {root}/config.yaml does not exist: give a results folder the DAG has started "
                       f"(results/<profile>)\n")
    print(status(root, args.cores))


if __name__ == "__main__":
    main()
