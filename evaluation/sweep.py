"""The sweep table: how every grid point of a `sweep:` profile (config/profiles/sweep*.yaml) trains, and the points
the stated rule chooses for the training recipe (docs/recipe.md, "The rule").

    python -m evaluation.sweep --config results/sweep/config.yaml [--dir results/sweep]
    python -m evaluation.sweep --compare results/published/sweep_long results/published/sweep_hold

`--compare` applies the rule across sweeps that ran apart (each point named `<folder>:<point>`) and prints the
scores, each family's seed noise, costs and choice; the budgets are those of the first sweep's configuration. It
ranks only the (method, dataset) cells that every folder ran, so a stage that reran part of the methods (say, those
its setting acts on) is not ranked first or last on the others by default. An entry may take some methods of a
folder (`DIR:m1,m2`), and join such parts with `+` into one entry: `sweep_ema:wgan_gp+sweep_vstat:joint_w` is the
recipe of stage 9 for both methods when each last ran at it in a different stage (their points keep their names, so
a part should hold one point).

Reads the sweep's learning curves (curves.csv) and run statuses (runs.csv) and writes tables/sweep.csv (long: one
row per point, method, dataset, metric and budget, with mean, sd and seeds), tables/sweep.md and figures/sweep.{png,pdf}
(every point's learning curves against the true distribution's score and the floor).

**The rule.** A budget counts iterations, or, with `budget_unit: examples`, training examples (iterations × the
point's batch size), so that points with different batches compare at equal cost. A metric's value at a budget b is
the mean of a run's learning-curve rows in (0.9 b, b] (at least the row at b), averaged over the sweep's seeds; a
run that diverged before b counts as the worst value. For each method, dataset, metric and budget the grid points
are ranked (1 = best, ties share the mean rank). A family's score at a point is its mean rank over the family's
methods, datasets and metrics:

    implicit (generators):       HSR ↑, MMD ↓
    explicit (energy models):    KLD ↓, AUC ↑
    joint (an energy and a generator): HSR ↑, KLD ↓, AUC ↑

Its seed noise is the sd over NOISE_DRAWS bootstrap resamplings of the seeds (`bootstrap_scores`). Each family
takes its best point at the largest budget; a point within TIE_SDS sd of it ties unless one of its values is worse
than the best point's by more than the metric's tolerance (`cell_losses`; config `trained: tolerance:`), and a tie
goes to the cheaper point (`point_costs`: matrix-product FLOPs per budget unit). A point is shared only where every
family admits it; otherwise each family takes its own (`decide`). The sweep's seeds are not those of any other
profile, and no claim's comparison enters the rule: the scores are ranks of each method against itself.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import datasets
import methods
from datasets.settings import training_set
from evaluation.outputs import REFERENCES
from methods.harness import config as suite_config
from methods.harness.io import write_text

FAMILY_METRICS = {"implicit": {"hsr": "max", "mmd": "min"},
                  "explicit": {"kld": "min", "auc": "max"},
                  "joint": {"hsr": "max", "kld": "min", "auc": "max"}}
WINDOW = 0.1  # a budget's value: the mean of the curve rows in ((1 − WINDOW) b, b]
NOISE_DRAWS = 1000  # bootstrap resamplings of the seeds behind a score's seed noise
TIE_SDS = 2.0  # a difference of scores within this many bootstrap sds of 0 is a tie (about a 95% interval)
EQUAL_COST = 1.25  # points whose counted costs (FLOPs per budget unit) differ by less than this factor cost the same


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
    return rank(table)


def rank(table: pd.DataFrame, keys: tuple = ()) -> pd.DataFrame:
    """`table` (one `mean` per point and cell) with each point's rank in its cell (method, dataset, metric, budget
    and `keys`): 1 = best, ties share the mean rank, a NaN mean (diverged, missing) ranks last."""
    ascending = table["family"].combine(table["metric"], lambda f, m: FAMILY_METRICS[f][m] == "min")
    signed = table["mean"].where(ascending, -table["mean"])
    cell = [table[k] for k in (*keys, "method", "dataset", "metric", "budget")]
    return table.assign(rank=signed.fillna(np.inf).groupby(cell).rank(method="average"))


def scores(table: pd.DataFrame, keys: tuple = ()) -> pd.DataFrame:
    """Per (point, budget, `keys`): each family's mean rank and their mean, the point's score."""
    family = table.groupby([*keys, "point", "budget", "family"])["rank"].mean().unstack("family")
    family["score"] = family.mean(axis=1)
    return family.reset_index()


def bootstrap_scores(values: pd.DataFrame, draws: int = NOISE_DRAWS, seed: int = 0) -> pd.DataFrame:
    """The scores of `draws` resamplings of the seeds: per draw, each (point, method, dataset) takes as many seeds
    as it ran, drawn with replacement from its own (the same seeds for all its metrics and budgets), and the rule's
    ranks and scores are recomputed from those means. Their spread over the draws is the seed noise of a score
    (Efron & Tibshirani 1993, the nonparametric bootstrap); columns as `scores`, plus `draw`."""
    wide = values.set_index(["point", "family", "method", "dataset", "seed", "metric", "budget"])["value"] \
        .unstack(["metric", "budget"])
    rng = np.random.default_rng(seed)
    frames = []
    for (point, family, method, dataset), runs in wide.groupby(level=[0, 1, 2, 3], sort=False):
        cells = runs.to_numpy()  # (seeds, metric × budget)
        picks = rng.integers(0, len(cells), size=(draws, len(cells)))
        means = cells[picks].mean(axis=1)  # (draws, metric × budget); a diverged seed drawn: NaN, ranks last
        frame = pd.DataFrame(means, columns=runs.columns).stack(["metric", "budget"], future_stack=True)
        frames.append(frame.rename("mean").reset_index().rename(columns={"level_0": "draw"})
                      .assign(point=point, family=family, method=method, dataset=dataset))
    table = pd.concat(frames, ignore_index=True)
    table = table[[m in FAMILY_METRICS[f] for f, m in zip(table["family"], table["metric"])]]  # the family's own
    return scores(rank(table, ("draw",)), ("draw",))


def ranking(score: pd.DataFrame, budgets: list[int], column: str = "score") -> list[str]:
    """The points best first by `column` (the score, or one family's): at the largest budget, ties broken by the
    next budget down; points without a value (a family that did not run them) are left out."""
    wide = score.pivot(index="point", columns="budget", values=column).dropna(how="all")
    return list(wide.sort_values(sorted(budgets, reverse=True), kind="stable").index)


def point_costs(cfg: dict, variants, dataset: str = "two_circle") -> pd.DataFrame:
    """Per (point, family): the cost of one budget unit of training, as the matrix-product FLOPs of a training
    iteration (torch's profiler count, methods.harness.bench; after two iterations of warm-up, the mean of two)
    over the budget units an iteration counts, the mean over the family's methods. A count, not a timing: the same
    on every machine and day (their speed varies 2-3x), and equal for points that differ only in values the
    arithmetic does not depend on (rates, schedules, the KSD's estimator); MLP training is matrix products."""
    import torch

    from methods.harness import bench
    from methods.harness.train import Batches

    x = torch.as_tensor(training_set(datasets.get(dataset), "clean", 0)["x"], dtype=torch.float32)
    scale, rows = per_iteration(cfg), []
    for variant in sorted(set(variants)):
        base, point = suite_config.split_variant(variant)
        if point is None:
            continue
        torch.manual_seed(0)
        method = bench.build(variant, cfg, x.shape[1], dataset)
        data = Batches(x, method.hp["batch_size"], np.random.default_rng(0))
        for _ in range(2):
            method.train_step(data)
        flops = np.mean([bench.matmul_flops(method, data) for _ in range(2)])
        rows.append({"point": point, "family": methods.get(base).kind, "cost": flops / scale[point]})
    return pd.DataFrame(rows, columns=["point", "family", "cost"]).groupby(["point", "family"])["cost"].mean() \
        .reset_index()


@dataclass
class Decision:
    """What the rule chooses: one point for every family (`shared`), or each family its own (`families`), with the
    evidence: per family its points best first and, for each, (point, Δ score to the best, bootstrap sd of Δ, cost,
    whether it ties with the best, the values it loses beyond their tolerance)."""
    shared: str | None
    families: dict[str, str]
    evidence: dict[str, list[tuple[str, float, float, float, bool, list[str]]]] = field(default_factory=dict)

    def choice(self, family: str) -> str:
        return self.shared or self.families[family]

    def __str__(self) -> str:
        return self.shared or ", ".join(f"{f}: {p}" for f, p in self.families.items())


def cell_losses(table: pd.DataFrame, budget: int, family: str, point: str, best: str, tolerance: dict) -> list[str]:
    """The cells (method, dataset, metric) of `family` at `budget` where `point` is worse than `best` by more than
    the metric's tolerance (config `trained: tolerance:`, twice the pooled seed-to-seed sd of a final metric), as
    text; a diverged or missing value is worse than any. Metrics without a tolerance (MMD) are not gated."""
    cells = table[(table["family"] == family) & (table["budget"] == budget) & table["metric"].isin(tolerance)]
    mean = {(r.method, r.dataset, r.metric, r.point): r.mean for r in cells.itertuples()}
    losses = []
    for method, dataset, metric in sorted({k[:3] for k in mean}):
        ours, theirs = mean.get((method, dataset, metric, point)), mean.get((method, dataset, metric, best))
        if ours is None or theirs is None or not np.isfinite(theirs):  # a cell one of them did not run (`only:`)
            continue
        worse = (ours - theirs) * (1 if FAMILY_METRICS[family][metric] == "min" else -1)
        if not np.isfinite(ours) or worse > tolerance[metric]:
            losses.append(f"{dataset} {method} {metric} {ours - theirs:+.3g}")
    return losses


def decide(score: pd.DataFrame, boot: pd.DataFrame, budgets: list[int], cost: pd.DataFrame,
           table: pd.DataFrame | None = None, tolerance: dict | None = None) -> Decision:
    """The fair rule (docs/recipe.md). Each family ranks the points by its own score at the largest budget (ties
    broken by the next budget down). A point whose score is within TIE_SDS bootstrap sds of the family's best (the
    sd of the difference, over the same draws) ties with it, unless one of its values (`table`, from rank_points) is
    worse than the best point's by more than the metric's `tolerance` (`cell_losses`: a rank hides how much a point
    loses). Of the tied points, those within EQUAL_COST of the cheapest are the family's admissible points (a tie
    goes to the cheaper setting). A point that every family admits is shared (the best mean score of such points);
    otherwise each family takes its best admissible point, and the methods of a family share it."""
    top = max(budgets)
    draws = boot[boot["budget"] == top]
    at_top = score[score["budget"] == top].set_index("point")
    families = [f for f in FAMILY_METRICS if f in at_top and at_top[f].notna().any()]
    cost_of = cost.groupby(["family", "point"])["cost"].median()
    evidence, admitted = {}, {}
    for family in families:
        order = ranking(score, budgets, family)
        samples = draws.pivot(index="draw", columns="point", values=family)
        best = order[0]
        rows = []
        for p in order:
            delta, sd = at_top.loc[p, family] - at_top.loc[best, family], float((samples[p] - samples[best]).std())
            losses = [] if p == best or table is None or not tolerance else \
                cell_losses(table, top, family, p, best, tolerance)
            rows.append((p, delta, sd, cost_of.get((family, p), np.nan),
                         p == best or (delta <= TIE_SDS * sd and not losses), losses))
        evidence[family] = rows
        admitted[family] = _cheapest([p for p, *_, tied, _ in rows if tied], {p: c for p, _, _, c, *_ in rows})
    common = [p for p in ranking(score, budgets) if all(p in admitted[f] for f in families)]
    return Decision(common[0] if common else None, {f: admitted[f][0] for f in families}, evidence)


def _cheapest(points: list[str], cost: dict[str, float]) -> list[str]:
    """Of `points` (best first), those whose cost is within EQUAL_COST of the cheapest one's (all of them when
    costs are unknown), in the same order."""
    known = [cost[p] for p in points if np.isfinite(cost.get(p, np.nan))]
    if not known:
        return list(points)
    return [p for p in points if np.isfinite(cost.get(p, np.nan)) and cost[p] <= EQUAL_COST * min(known)]


def decision_lines(decision: Decision, score: pd.DataFrame, boot: pd.DataFrame, budgets: list[int]) -> list[str]:
    """The rule's evidence in Markdown: per point each family's score ± its seed noise (bootstrap sd) at the
    largest budget, Δ to the family's best ± the sd of Δ, the measured cost; then the choice."""
    top = max(budgets)
    noise = boot[boot["budget"] == top].groupby("point")
    at_top = score[score["budget"] == top].set_index("point")
    lines = [f"| family | point | score @{top} ± seed noise | Δ to best ± sd | tie (Δ ≤ {TIE_SDS:g} sd, no value "
             "worse beyond its tolerance) | MFLOP / unit | chosen |", "|" + " --- |" * 7]
    for family, rows in decision.evidence.items():
        sd = noise[family].std()
        for p, delta, delta_sd, cost, tied, losses in rows:
            tie = "best" if p == rows[0][0] else ("yes" if tied else "no" + (
                f", worse beyond tolerance: {'; '.join(losses)}" if losses else ""))
            lines.append(f"| {family} | `{p}` | {at_top.loc[p, family]:.2f} ± {sd[p]:.2f} | {delta:+.2f} ± "
                         f"{delta_sd:.2f} | {tie} | {'–' if not np.isfinite(cost) else f'{cost / 1e6:.3g}'} | "
                         f"{'✓' if decision.choice(family) == p else ''} |")
    verdict = (f"shared by every family: `{decision.shared}`" if decision.shared else
               "the families disagree, each takes its own: " + ", ".join(f"{f} `{p}`"
                                                                          for f, p in decision.families.items()))
    return lines + ["", f"Rule's choice: {verdict}."]


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


def markdown(cfg: dict, table: pd.DataFrame, score: pd.DataFrame, decision: Decision, refs: pd.DataFrame,
             boot: pd.DataFrame) -> str:
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
             "Rule (evaluation/sweep.py, docs/recipe.md): rank the points per method, dataset, metric and budget; a "
             "family's score is its mean rank (implicit: HSR, MMD; explicit: KLD, AUC; joint: HSR, KLD, AUC), its seed "
             f"noise the sd over {NOISE_DRAWS} bootstrap resamplings of the seeds. Each family takes its best point at "
             f"{top} {word} (ties broken by the next budget down); a point within {TIE_SDS:g} sd of that best ties, "
             "and ties go to the cheaper point (fewer matrix-product FLOPs per budget unit). One point is shared only "
             "where every family admits it, else each family takes its own. Lower is better; points best first.", "",
             *chosen_lines(decision, points), "", *decision_lines(decision, score, boot, budgets), ""]
    wide = score.pivot(index="point", columns="budget")
    families = [fam for fam in FAMILY_METRICS if (fam, top) in wide]
    header = ["point", *varied, *(f"{fam} @{top}" for fam in families), *(f"score @{b}" for b in budgets)]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    order = ranking(score, budgets)
    for point in order:
        cells = [f"`{point}`"] + [_value(points[point].get(k, "default")) for k in varied]
        cells += [_number(wide.loc[point, (fam, top)]) for fam in families]
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


def chosen_lines(decision: Decision, points: dict[str, dict]) -> list[str]:
    """The chosen point(s) with their settings: `**Chosen: `p`**: …`, or one line per family."""
    def settings(p):
        return ", ".join(f"{k} = {_value(v)}" for k, v in points[p].items())
    if decision.shared:
        return [f"**Chosen: `{decision.shared}`**: " + settings(decision.shared)]
    return ["**Chosen per family** (the families disagree):", ""] + \
        [f"- {family}: `{p}`: {settings(p)}" for family, p in decision.families.items()]


def _number(value) -> str:
    return "–" if not np.isfinite(value) else f"{value:.2f}"


def _value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def plot_curves(curves: pd.DataFrame, cfg: dict, decision: Decision, stem: Path) -> None:
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
            chosen = decision.choice(methods.get(m).kind)
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


def make_sweep_table(root: Path, cfg: dict) -> Decision:
    """Write tables/sweep.{csv,md} below `root`; returns the rule's decision."""
    if not cfg.get("sweep"):
        raise SystemExit("error: this configuration has no `sweep:` section (run the sweep profile: "
                         "snakemake --cores 2 --config profile=sweep)")
    budgets = sorted(cfg["sweep"]["budgets"])
    curves, runs = pd.read_csv(root / "curves.csv"), pd.read_csv(root / "runs.csv")
    values = budget_values(curves, runs, budgets, per_iteration(cfg))
    table = rank_points(values)
    score, boot = scores(table), bootstrap_scores(values)
    decision = decide(score, boot, budgets, point_costs(cfg, runs["method"]), table, cfg["trained"]["tolerance"])
    out = root / "tables"
    out.mkdir(parents=True, exist_ok=True)
    overrides = suite_config.sweep_points(cfg["sweep"])
    table = table.assign(chosen=[p == decision.choice(f) for p, f in zip(table["point"], table["family"])],
                         **{"overrides": table["point"].map(lambda p: repr(overrides[p]))})
    write_text(out / "sweep.csv", table.to_csv(index=False))
    write_text(out / "sweep.md", markdown(cfg, table, score, decision, references(curves), boot))
    plot_curves(curves, cfg, decision, root / "figures" / "sweep")
    return decision


def parts(entry) -> list[tuple[Path, list[str] | None]]:
    """A `--compare` entry's (folder, methods or None for all): `DIR`, `DIR:m1,m2`, or such parts joined by `+`."""
    found = []
    for part in str(entry).split("+"):
        folder, _, names = part.partition(":")
        found.append((Path(folder), names.split(",") if names else None))
    return found


def compared(entries: list, with_costs: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None, list[int]]:
    """The budget values and costs of the points of several sweeps' results folders, each point named
    `<entry>:<point>` (an entry: a folder, some methods of one, or parts of several joined by `+`, see `parts`), on
    the (method, dataset) cells every entry ran; budgets from the first folder's config.yaml (each folder's own
    budget unit and batch sizes); `with_costs`: each point's cost too (`point_costs`)."""
    entries = [parts(e) for e in entries]
    folders = [folder for entry in entries for folder, _ in entry]
    cfgs = {folder: suite_config.read(folder / "config.yaml") for folder in folders}
    if len({unit(cfg["sweep"]) for cfg in cfgs.values()}) > 1:
        raise SystemExit("error: --compare needs sweeps whose budgets count the same unit; these count "
                         + ", ".join(f"{f.name}: {unit(c['sweep'])}" for f, c in cfgs.items()))
    budgets = sorted(cfgs[folders[0]]["sweep"]["budgets"])
    values, costs = [], []
    for entry in entries:
        found, cost = [], []
        for folder, names in entry:
            runs = pd.read_csv(folder / "runs.csv")
            got = budget_values(pd.read_csv(folder / "curves.csv"), runs, budgets, per_iteration(cfgs[folder]))
            unknown = sorted(set(names or ()) - set(got["method"]))
            if unknown:
                raise SystemExit(f"error: {folder} has no sweep runs of {', '.join(unknown)}; its methods: "
                                 + ", ".join(sorted(set(got["method"]))))
            if names is not None:
                got = got[got["method"].isin(names)]
                runs = runs[runs["method"].map(lambda m: suite_config.split_variant(m)[0] in names)]
            found.append(got)
            if with_costs:
                cost.append(point_costs(cfgs[folder], runs["method"]))
        name = "+".join(folder.name for folder, _ in entry)
        found = pd.concat(found, ignore_index=True)
        values.append(found.assign(point=name + ":" + found["point"]))
        if with_costs:
            cost = pd.concat(cost, ignore_index=True)
            costs.append(cost.assign(point=name + ":" + cost["point"]))
    common = set.intersection(*({*zip(v["method"], v["dataset"])} for v in values))
    values = pd.concat(values, ignore_index=True)
    return (values[[cell in common for cell in zip(values["method"], values["dataset"])]],
            pd.concat(costs, ignore_index=True) if with_costs else None, budgets)


def compare(entries: list) -> pd.DataFrame:
    """The rule's scores over the points of several sweeps (`compared`)."""
    values, _, _ = compared(entries, with_costs=False)
    return scores(rank_points(values))


def compare_text(entries: list) -> str:
    """What `--compare` prints: every point's scores per budget, then per family its score ± seed noise, Δ to the
    family's best, cost and the rule's choice (`decide`)."""
    values, costs, budgets = compared(entries)
    table = rank_points(values)
    score, boot = scores(table), bootstrap_scores(values)
    tolerance = suite_config.load()["trained"]["tolerance"]  # today's, for every stage alike
    decision = decide(score, boot, budgets, costs, table, tolerance)
    return "\n".join([score.pivot(index="point", columns="budget").round(2).to_string(), "",
                      *decision_lines(decision, score, boot, budgets)])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite_config.add_arguments(parser)
    parser.add_argument("--compare", nargs="+", default=None, metavar="DIR",
                        help="results folders of sweeps to rank together (prints their points' scores, each "
                             "family's seed noise and the rule's choice); DIR:m1,m2 takes some methods of one, "
                             "and + joins such parts into one entry")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare_text(args.compare))
        return
    cfg, root = suite_config.from_arguments(args)
    print(f"chosen: {make_sweep_table(root, cfg)}")


if __name__ == "__main__":
    main()
