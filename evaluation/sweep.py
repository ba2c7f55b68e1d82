"""The sweep table: how every grid point of a `sweep:` profile (config/profiles/sweep.yaml) trains, and the point the
stated rule chooses as the shared training recipe (README, "The training recipe").

    python -m evaluation.sweep --config results/sweep/config.yaml [--dir results/sweep]
    python -m evaluation.sweep --compare results/published/sweep_long results/published/sweep_hold

`--compare` applies the rule across sweeps that ran apart (each point named `<folder>:<point>`) and prints the
scores; the budgets are those of the first sweep's configuration. It ranks only the (method, dataset) cells that
every folder ran, so a stage that reran part of the methods (say, those its setting acts on) is not ranked first
or last on the others by default. An entry may take some methods of a folder (`DIR:m1,m2`), and join such parts
with `+` into one entry: `sweep_ema:wgan_gp+sweep_vstat:joint_w` is the recipe of stage 9 for both methods when
each last ran at it in a different stage (their points keep their names, so a part should hold one point).

Reads the sweep's learning curves (curves.csv) and run statuses (runs.csv) and writes tables/sweep.csv (long: one
row per point, method, dataset, metric and budget, with mean, sd and seeds), tables/sweep.md and figures/sweep.{png,pdf}
(every point's learning curves against the ceiling and the floor).

**The rule.** A budget counts iterations, or, with `budget_unit: examples`, training examples (iterations × the
point's batch size), so that points with different batches compare at equal cost (stage 5, sweep_budget.yaml).
A metric's value at a budget b is the mean of a run's learning-curve rows in (0.9 b, b] (at least the row at b),
averaged over the sweep's seeds; a run that diverged before b counts as the worst value. For each method,
dataset, metric and budget the grid points are ranked (1 = best, ties share the mean rank). A family's score at a
point is its mean rank over the family's methods, datasets and metrics:

    implicit (generators):       HSR ↑, MMD ↓
    explicit (energy models):    KLD ↓, AUC ↑
    joint (Stein Bridging):      HSR ↑, KLD ↓, AUC ↑

and a point's score is the mean of the three family scores (each family weighs the same, whatever its number of
methods). The chosen point has the best score at the largest budget, ties broken by the next budget down. One
point serves every method, so every family trains with the same optimiser settings and the joint methods' critic
and generator are trained exactly as their adversarial counterparts'. The sweep's seeds are not those of any
other profile, and no claim's comparison enters the rule: the scores are ranks of each method against itself.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

import methods
from evaluation.outputs import REFERENCES
from methods.harness import config as suite_config
from methods.harness.io import write_text

FAMILY_METRICS = {"implicit": {"hsr": "max", "mmd": "min"},
                  "explicit": {"kld": "min", "auc": "max"},
                  "joint": {"hsr": "max", "kld": "min", "auc": "max"}}
WINDOW = 0.1  # a budget's value: the mean of the curve rows in ((1 − WINDOW) b, b]


def unit(sweep: dict) -> str:
    """What the sweep's budgets count: iterations or examples."""
    return sweep.get("budget_unit", "iterations")


def per_iteration(cfg: dict) -> dict[str, int]:
    """{point: budget units one training iteration of the point counts}: 1, or its batch size (`budget_unit:
    examples`)."""
    points = suite_config.sweep_points(cfg["sweep"])
    if unit(cfg["sweep"]) == "iterations":
        return dict.fromkeys(points, 1)
    return {p: int(over.get("batch_size", cfg["training"]["batch_size"])) for p, over in points.items()}


def budget_values(curves: pd.DataFrame, runs: pd.DataFrame, budgets: list[int],
                  scale: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per (method variant, dataset, seed, metric, budget): the run's value at the budget (NaN: it diverged
    before, or has no curve there). `scale`: budget units per iteration of each point (default 1: iterations)."""
    rows = []
    status = {(r.dataset, r.method, int(r.seed)): r for r in runs.itertuples()}
    for (dataset, variant, seed), curve in curves.groupby(["dataset", "method", "seed"]):
        base, point = suite_config.split_variant(variant)
        if point is None:  # the references (ceiling, floor): `references` below
            continue
        family = methods.get(base).kind
        run = status.get((dataset, variant, int(seed)))
        units = (scale or {}).get(point, 1)
        failed_at = units * (json.loads(run.failure)["iteration"] if run is not None and run.status == "diverged"
                             else np.nan)
        at = units * curve["iteration"]
        for metric in FAMILY_METRICS[family]:
            for b in budgets:
                window = curve[(at > (1 - WINDOW) * b) & (at <= b)]
                value = window[metric].mean() if metric in window and len(window) else np.nan
                if np.isfinite(failed_at) and failed_at <= b:
                    value = np.nan
                rows.append({"point": point, "method": base, "family": family, "dataset": dataset, "seed": int(seed),
                             "metric": metric, "budget": b, "value": value})
    return pd.DataFrame(rows)


def references(curves: pd.DataFrame) -> pd.DataFrame:
    """The ceiling's and the floor's value of every metric per dataset (mean over the sweep's seeds)."""
    refs = curves[curves["method"].isin(REFERENCES)]
    metrics = sorted({m for family in FAMILY_METRICS.values() for m in family})
    return refs.groupby(["method", "dataset"])[metrics].mean()


def rank_points(values: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per (point, method, dataset, metric, budget), and the point's rank among the points
    (1 = best; a missing or diverged value ranks last)."""
    table = (values.groupby(["family", "method", "dataset", "metric", "budget", "point"])["value"]  # a diverged
             .agg(mean=lambda v: v.mean(skipna=False), sd="std", seeds="count").reset_index())  # seed: mean NaN
    ascending = table["family"].combine(table["metric"], lambda f, m: FAMILY_METRICS[f][m] == "min")
    signed = table["mean"].where(ascending, -table["mean"])
    table["rank"] = (signed.fillna(np.inf).groupby([table[k] for k in ("method", "dataset", "metric", "budget")])
                     .rank(method="average"))
    return table


def scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per (point, budget): each family's mean rank and their mean, the point's score."""
    family = table.groupby(["point", "budget", "family"])["rank"].mean().unstack("family")
    family["score"] = family.mean(axis=1)
    return family.reset_index()


def ranking(score: pd.DataFrame, budgets: list[int]) -> list[str]:
    """The points best first: by score at the largest budget, ties broken by the next budget down."""
    wide = score.pivot(index="point", columns="budget", values="score")
    return list(wide.sort_values(sorted(budgets, reverse=True), kind="stable").index)


def choose(score: pd.DataFrame, budgets: list[int]) -> str:
    """The point with the best (lowest) score at the largest budget, ties broken by the next budget down."""
    return ranking(score, budgets)[0]


def grid_text(sweep: dict) -> str:
    """The grid in words: every combination of the axes' values, or one axis at a time away from the base."""
    if sweep.get("mode", "grid") == "axes":
        return "one axis at a time away from the base (" + ", ".join(f"{k} = {v}" for k, v in
                                                                   (sweep.get("base") or {}).items()) + "): " + \
            "; ".join(f"{a} → {', '.join(map(str, v))}" for a, v in sweep["grid"].items())
    return "grid: " + "; ".join(f"{a}: {len(v)} values" for a, v in sweep["grid"].items())


def seed_text(cfg: dict) -> str:
    first = suite_config.first_seed(cfg)
    return f"seed {first}" if cfg["seeds"] == 1 else f"seeds {first}…{first + cfg['seeds'] - 1}"


def markdown(cfg: dict, table: pd.DataFrame, score: pd.DataFrame, chosen: str, refs: pd.DataFrame) -> str:
    sweep = cfg["sweep"]
    points = suite_config.sweep_points(sweep)
    budgets = sorted(sweep["budgets"])
    top, word = max(budgets), unit(sweep)
    keys = list(dict.fromkeys(k for over in points.values() for k in over))
    varied = [k for k in keys if len({repr(over.get(k)) for over in points.values()}) > 1]  # the table's columns
    lines = ["# Sweep: the shared training recipe", "",
             f"Methods {', '.join(sweep['methods'])} on {', '.join(sweep['datasets'])} (clean), {seed_text(cfg)}, "
             + ("each point's own iterations" if "iterations" in keys else f"{cfg['training']['iterations']} iterations")
             + "; " + grid_text(sweep) + ".",
             "Rule (evaluation/sweep.py): rank the points per method, dataset, metric and budget; a family's score is "
             "its mean rank (implicit: HSR, MMD; explicit: KLD, AUC; joint: HSR, KLD, AUC), a point's score the mean "
             f"of the family scores; the best score at {top} {word} wins, ties broken by the next budget down. Lower is "
             "better; points best first.", "",
             f"**Chosen: `{chosen}`**: " + ", ".join(f"{k} = {_value(v)}" for k, v in points[chosen].items()), ""]
    wide = score.pivot(index="point", columns="budget")
    families = [fam for fam in FAMILY_METRICS if (fam, top) in wide]
    header = ["point", *varied, *(f"{fam} @{top}" for fam in families), *(f"score @{b}" for b in budgets)]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    order = ranking(score, budgets)
    for point in order:
        cells = [f"`{point}`"] + [_value(points[point].get(k, "default")) for k in varied]
        cells += [f"{wide.loc[point, (fam, top)]:.2f}" for fam in families]
        cells += [f"{wide.loc[point, ('score', b)]:.2f}" for b in budgets]
        lines.append("| " + " | ".join(cells) + " |")
    at_top = table[table["budget"] == top]
    for dataset in sweep["datasets"]:
        here = at_top[at_top["dataset"] == dataset]
        columns = sorted({(m, metric) for m, metric in zip(here["method"], here["metric"])},
                         key=lambda c: (sweep["methods"].index(c[0]), c[1]))
        lines += ["", f"{dataset}, values at {top} {word} (mean ± sd over seeds; – : diverged or missing):", "",
                  "| point | " + " | ".join(f"{m} {metric}" for m, metric in columns) + " |",
                  "|" + " --- |" * (len(columns) + 1)]
        cell = here.set_index(["point", "method", "metric"])
        for point in order:
            cells = []
            for m, metric in columns:
                mean, sd = cell.loc[(point, m, metric), ["mean", "sd"]] if (point, m, metric) in cell.index \
                    else (np.nan, np.nan)
                cells.append("–" if not np.isfinite(mean) else f"{mean:.2f}" + (f" ± {sd:.2f}" if np.isfinite(sd)
                                                                                  else ""))  # one seed: no sd
            lines.append(f"| `{point}` | " + " | ".join(cells) + " |")
        for ref in REFERENCES:
            cells = [f"{refs.loc[(ref, dataset), metric]:.2f}" if (ref, dataset) in refs.index else "–"
                     for _, metric in columns]
            lines.append(f"| {ref} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def plot_curves(curves: pd.DataFrame, cfg: dict, chosen: str, stem: Path) -> None:
    """figures/sweep.{png,pdf}: each method's metrics against iterations (mean over seeds), one line per point (the
    chosen one thick), with the ceiling and the floor of each dataset: the evidence behind the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluation.figures import REFERENCE_STYLE, save

    sweep = cfg["sweep"]
    panels = [(m, metric) for m in sweep["methods"] for metric in FAMILY_METRICS[methods.get(m).kind]]
    points = list(suite_config.sweep_points(sweep))
    scale = per_iteration(cfg)
    colours = plt.get_cmap("tab10" if len(points) <= 10 else "tab20")
    fig, axes = plt.subplots(len(panels), len(sweep["datasets"]), figsize=(4.2 * len(sweep["datasets"]),
                                                                           2.1 * len(panels)), squeeze=False)
    refs = curves[curves["method"].isin(list(REFERENCE_STYLE))].groupby(["method", "dataset"]).mean(numeric_only=True)
    for (m, metric), row in zip(panels, axes):
        for dataset, ax in zip(sweep["datasets"], row):
            for i, point in enumerate(points):
                run = curves[(curves["method"] == f"{m}@{point}") & (curves["dataset"] == dataset)]
                mean = run.groupby("iteration")[metric].mean()
                ax.plot(mean.index * scale[point], mean.values, color=colours(i), lw=2.4 if point == chosen else 0.9,
                        label=point + (" (chosen)" if point == chosen else ""))
            for ref, (colour, style) in REFERENCE_STYLE.items():
                if (ref, dataset) in refs.index:
                    ax.axhline(refs.loc[(ref, dataset), metric], color=colour, ls=style, lw=1, label=ref)
            ax.set_title(f"{m} · {dataset}", fontsize=9)
            ax.set_ylabel(metric)
            ax.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("iteration" if unit(sweep) == "iterations" else "training examples")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(6, len(labels)), fontsize=8,
               bbox_to_anchor=(0.5, 1.0 + 0.25 / len(panels)))
    fig.tight_layout()
    save(fig, stem)


def make_sweep_table(root: Path, cfg: dict) -> str:
    """Write tables/sweep.{csv,md} below `root`; returns the chosen point."""
    if not cfg.get("sweep"):
        raise SystemExit("error: this configuration has no `sweep:` section (run the sweep profile: "
                         "snakemake --cores 2 --config profile=sweep)")
    budgets = sorted(cfg["sweep"]["budgets"])
    curves = pd.read_csv(root / "curves.csv")
    values = budget_values(curves, pd.read_csv(root / "runs.csv"), budgets, per_iteration(cfg))
    table = rank_points(values)
    score = scores(table)
    chosen = choose(score, budgets)
    out = root / "tables"
    out.mkdir(parents=True, exist_ok=True)
    overrides = suite_config.sweep_points(cfg["sweep"])
    table = table.assign(chosen=table["point"] == chosen,
                         **{"overrides": table["point"].map(lambda p: repr(overrides[p]))})
    write_text(out / "sweep.csv", table.to_csv(index=False))
    write_text(out / "sweep.md", markdown(cfg, table, score, chosen, references(curves)))
    plot_curves(curves, cfg, chosen, root / "figures" / "sweep")
    return chosen


def parts(entry) -> list[tuple[Path, list[str] | None]]:
    """A `--compare` entry's (folder, methods or None for all): `DIR`, `DIR:m1,m2`, or such parts joined by `+`."""
    found = []
    for part in str(entry).split("+"):
        folder, _, names = part.partition(":")
        found.append((Path(folder), names.split(",") if names else None))
    return found


def compare(entries: list) -> pd.DataFrame:
    """The rule's scores over the points of several sweeps' results folders, each point named `<entry>:<point>`
    (an entry: a folder, some methods of one, or parts of several joined by `+`, see `parts`), on the (method,
    dataset) cells every entry ran; budgets from the first folder's config.yaml (each folder's own budget unit and
    batch sizes)."""
    entries = [parts(e) for e in entries]
    folders = [folder for entry in entries for folder, _ in entry]
    cfgs = {folder: suite_config.read(folder / "config.yaml") for folder in folders}
    if len({unit(cfg["sweep"]) for cfg in cfgs.values()}) > 1:
        raise SystemExit("error: --compare needs sweeps whose budgets count the same unit; these count "
                         + ", ".join(f"{f.name}: {unit(c['sweep'])}" for f, c in cfgs.items()))
    budgets = sorted(cfgs[folders[0]]["sweep"]["budgets"])
    values = []
    for entry in entries:
        found = []
        for folder, names in entry:
            got = budget_values(pd.read_csv(folder / "curves.csv"), pd.read_csv(folder / "runs.csv"), budgets,
                                per_iteration(cfgs[folder]))
            unknown = sorted(set(names or ()) - set(got["method"]))
            if unknown:
                raise SystemExit(f"error: {folder} has no sweep runs of {', '.join(unknown)}; its methods: "
                                 + ", ".join(sorted(set(got["method"]))))
            found.append(got if names is None else got[got["method"].isin(names)])
        found = pd.concat(found, ignore_index=True)
        name = "+".join(folder.name for folder, _ in entry)
        values.append(found.assign(point=name + ":" + found["point"]))
    common = set.intersection(*({*zip(v["method"], v["dataset"])} for v in values))
    values = pd.concat(values, ignore_index=True)
    return scores(rank_points(values[[cell in common for cell in zip(values["method"], values["dataset"])]]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite_config.add_arguments(parser)
    parser.add_argument("--compare", nargs="+", default=None, metavar="DIR",
                        help="results folders of sweeps to rank together (prints their points' scores); "
                             "DIR:m1,m2 takes some methods of one, and + joins such parts into one entry")
    args = parser.parse_args(argv)
    if args.compare:
        score = compare(args.compare)
        print(score.pivot(index="point", columns="budget").round(2).to_string())
        return
    cfg, root = suite_config.from_arguments(args)
    print(f"chosen: {make_sweep_table(root, cfg)}")


if __name__ == "__main__":
    main()
