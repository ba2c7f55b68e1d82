"""What a verdict of the claims report (evaluation/claims.py) does not say by itself: where a method scores above
the true distribution, and which runs memorised their training set.

* The `ceiling` reference (evaluation/references.py) is the true distribution's score, not an upper bound (SPEC
  §9). HSR counts the samples within τ of a mean, so a generator that crowds its samples onto the means scores
  above the true mixture, whose samples spread over each component; the 2-D AUC ranks the means above points near
  them, so an energy more sharply peaked at the means than the true density scores above the truth's AUC. Above
  the truth, "higher is better" no longer means "closer to the data" (`above_truth`).
* `memorised` (a boolean column of runs.csv, where the aggregate writes it): a run whose training-set MMD beats its
  held-out MMD by more than noise (`memorised`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.trained import JUDGED, truth

TRUTH = "ceiling"  # the reference method whose rows are the true distribution's scores
MEANING = {  # what a score above the true distribution's means, per metric
    "hsr": "HSR rewards samples crowded onto the means: the true mixture spreads its samples over each component, "
           "so a generator above it has pulled its samples towards the means, which is no better fit of the data "
           "(its MMD and the modes covered say more)",
    "auc": "the AUC ranks the means above points near them: an energy more sharply peaked at the means than the "
           "true density scores above it without being more accurate (its KLD says more)",
}
GENERIC = "the true distribution's score is not a bound on this metric: a score beyond it is not a better fit"


def above_truth(metrics: pd.DataFrame, cells, metric: str, names: dict | None = None) -> list[str]:
    """One line per (dataset, setting, method) of `cells` whose mean `metric` over its finished seeds is better
    (in the direction of JUDGED) than the true distribution's mean over the same seeds (metrics.csv's `ceiling`
    rows): both means and on how many seeds the method is beyond the truth."""
    if metric not in JUDGED:
        return []
    sign = 1.0 if JUDGED[metric] else -1.0
    rows = metrics[metrics["metric"] == metric]
    key = ["dataset", "setting", "seed"]
    true = rows[rows["method"] == TRUTH].set_index(key)["value"]
    out = []
    for dataset, setting, method in dict.fromkeys(cells):
        own = rows[(rows["dataset"] == dataset) & (rows["setting"] == setting) & (rows["method"] == method)
                   & (rows["status"] == "ok")].set_index(key)["value"]
        both = own.index.intersection(true.index)
        if both.empty:
            continue
        mine, theirs = own[both].to_numpy(float), true[both].to_numpy(float)
        if sign * (np.mean(mine) - np.mean(theirs)) > 0:
            where = (names or {}).get(dataset, dataset) + ("" if setting == "clean" else f", {setting}")
            out.append(f"{metric.upper()} of {method} on {where}: {np.mean(mine):.3f} against the true "
                       f"distribution's {np.mean(theirs):.3f} (beyond it on {int((sign * (mine - theirs) > 0).sum())}"
                       f"/{len(both)} seeds)")
    return out


def meaning(metric: str) -> str:
    """What a score above the true distribution's means on `metric`."""
    return MEANING.get(metric, GENERIC)


def memorised(runs: pd.DataFrame, cells=None) -> list[str] | None:
    """The memorised runs of runs.csv (those of `cells`, (dataset, setting, method), if given), one line each;
    None where runs.csv has no `memorised` column."""
    if "memorised" not in runs:
        return None
    found = runs[truth(runs, "memorised")]
    if cells is not None:
        wanted = set(cells)
        found = found[[c in wanted for c in zip(found["dataset"], found["setting"], found["method"])]]
    return [f"{r.method} on {r.dataset}/{r.setting}, seed {r.seed}" for r in found.itertuples()]


def claim_notes(metrics: pd.DataFrame, runs: pd.DataFrame, comparisons, names: dict | None = None) -> list[str]:
    """The claims report's lines under one claim: the methods beyond the true distribution on the metrics its
    `comparisons` compare (each with what that means), and the memorised runs behind them."""
    lines = []
    for metric in dict.fromkeys(c.metric for c in comparisons):
        found = list(dict.fromkeys(line for c in comparisons if c.metric == metric
                                   for line in above_truth(metrics, c.cells, metric, names)))
        if found:
            lines += ["", f"Beyond the true distribution's score (the `ceiling` reference, which is not a bound) on "
                          f"{metric.upper()}: {meaning(metric)}.", "", *[f"- {line}" for line in found]]
    held = memorised(runs, [cell for c in comparisons for cell in c.cells])
    if held:
        lines += ["", "Memorised runs behind these comparisons (runs.csv, `memorised`):", "",
                  *[f"- {line}" for line in held]]
    return lines


def memorised_section(runs: pd.DataFrame) -> list[str]:
    """The claims report's list of every memorised run; nothing where runs.csv has no `memorised` column."""
    held = memorised(runs)
    if held is None:
        return []
    return ["", "## Memorised runs", "",
            "Runs whose training-set MMD beats their held-out MMD by more than noise (runs.csv, `memorised`): "
            + (f"{len(held)}." if held else "none."), *([""] if held else []), *[f"- {line}" for line in held]]
