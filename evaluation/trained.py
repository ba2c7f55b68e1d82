"""Is a run trained? (docs/metrics.md, "Trained, not merely run") Two recorded facts per run, in runs.csv, with the reason when
either fails:

* `beats_floor`: every judged metric of the run (below) is better than the floor's (evaluation/references.py) by
  at least `margin` × the gap between the floor and the ceiling, both of the run's own training set:
      higher is better:  value ≥ floor + margin · (ceiling − floor),
      lower is better:   value ≤ floor − margin · (floor − ceiling).
  A run that closes less than that fraction of the gap has not left the trivial model (a Gaussian blob, a broad
  energy well, noise images) far enough for a comparison between two such runs to say anything about methods.
* `plateaued`: over the last `window` of training, every judged metric changed by at most its tolerance; the
  change is the least-squares line through the learning-curve rows in the window, times the window's length (a
  line, not the difference of two rows, so the estimate's noise is that of the fitted slope). It needs at least
  MIN_TAIL_ROWS rows in the window.

Judged metrics: those of JUDGED that the run reports: HSR (generators), KLD and AUC (2-D energies),
fid_classifier (image generators), auc_ood_noise and auc_ood_overlay (image energies: real digits above noise and
above overlays of two digits; their floor and ceiling are those of a score by definition, 0.5 for an uninformative
one and 1 for a perfect one). Tolerances are absolute, except `fid_classifier`'s,
a fraction of the run's final value (FID's scale depends on the feature space).

A run that diverged or is missing is neither. `judge` adds the three columns to runs.csv, and a fourth:

* `memorised`: the run's generator sits closer to its training points than to fresh draws of the truth: its
  `mmd_train` (against the clean training set) beats its `mmd` (against the held-out sample of the true mixture,
  evaluation/evaluate.py) by more than MEMORISED_Z times the noise of that gap, i.e. `memorisation_z` > MEMORISED_Z.
  The noise is the exact standard deviation of mmd − mmd_train under random relabelling of the pooled held-out and
  training points, the permutation null of a generator independent of its training set
  (evaluation/metrics2d.py, `mmd_memorisation`); the gap is a linear permutation statistic, close to normal
  (Hájek 1961), so MEMORISED_Z = 2 is a one-sided test at about the 2% level. A run without a generator, or not
  evaluated, is not memorised. It does not enter `beats_floor` or `plateaued`: it says how to read the run's
  training-set numbers (and the released code's), which it would win by copying. A flag, not a proof of the
  contrary: with the bandwidth-1 kernel the gap of even an exact resampler of the training set is a few noise
  units (tests/test_heldout.py), so a near-copy may stay unflagged.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from evaluation.outputs import REFERENCES  # the reference "methods" of metrics.csv (evaluation/references.py)

JUDGED = {"hsr": True, "kld": False, "auc": True, "fid_classifier": False, "auc_ood_noise": True,
          "auc_ood_overlay": True}  # metric: higher is better?
FIXED_REFERENCES = {"auc_ood_noise": (0.5, 1.0), "auc_ood_overlay": (0.5, 1.0)}  # (floor, ceiling) of a ROC AUC
RELATIVE_TOLERANCE = {"fid_classifier"}
MIN_TAIL_ROWS = 3
MEMORISED_Z = 2.0  # memorised: mmd − mmd_train exceeds twice its permutation noise (one-sided, about the 2% level)
IDENTITY = ["dataset", "setting", "method", "seed"]


def threshold(floor: float, ceiling: float, margin: float) -> float:
    """The value a run must reach (or pass) to beat the floor: floor + margin · (ceiling − floor)."""
    return floor + margin * (ceiling - floor)


def beats(value: float, floor: float, ceiling: float, margin: float, higher: bool) -> bool:
    bar = threshold(floor, ceiling, margin)
    return bool(value >= bar) if higher else bool(value <= bar)


def tail_change(iterations: np.ndarray, values: np.ndarray, total: int, window: float) -> float | None:
    """The change of a learning curve over the last `window` of `total` iterations: the least-squares slope of
    the rows in the window times the window's length; None with fewer than MIN_TAIL_ROWS finite rows there."""
    it, v = np.asarray(iterations, float), np.asarray(values, float)
    keep = (it >= (1 - window) * total) & np.isfinite(v)
    if keep.sum() < MIN_TAIL_ROWS:
        return None
    slope = np.polyfit(it[keep], v[keep], 1)[0]
    return float(slope * window * total)


def tolerance(rules: dict, metric: str, value: float) -> float:
    tol = rules["tolerance"][metric]
    return tol * abs(value) if metric in RELATIVE_TOLERANCE else tol


def references_of(metrics: pd.DataFrame) -> dict:
    """{(dataset, setting, seed, metric): {"floor": value, "ceiling": value}} from metrics.csv's reference rows."""
    refs = metrics[metrics["method"].isin(REFERENCES)]
    out: dict = {}
    for row in refs.itertuples():
        out.setdefault((row.dataset, row.setting, int(row.seed), row.metric), {})[row.method] = row.value
    return out


def judge_run(run: dict, final: dict, curve: pd.DataFrame, refs: dict, rules: dict) -> dict:
    """beats_floor, plateaued and the reasons against them for one run; `final`: {metric: value}."""
    if run["status"] != "ok":
        why = " ".join(filter(None, [run["status"], failure_text(run.get("failure"))]))
        return {"beats_floor": False, "plateaued": False, "not_trained_because": why}
    judged = [m for m in JUDGED if m in final and np.isfinite(final[m])]
    if not judged:
        return {"beats_floor": False, "plateaued": False, "not_trained_because": "no judged metric"}
    reasons, beats_all, flat_all = [], True, True
    for metric in judged:
        key = (run["dataset"], run["setting"], int(run["seed"]), metric)
        floor, ceiling = FIXED_REFERENCES.get(metric) or (refs.get(key, {}).get("floor"),
                                                          refs.get(key, {}).get("ceiling"))
        if floor is None or ceiling is None:
            beats_all = False
            reasons.append(f"{metric}: no floor/ceiling reference")
        elif not beats(final[metric], floor, ceiling, rules["margin"], JUDGED[metric]):
            beats_all = False
            bar = threshold(floor, ceiling, rules["margin"])
            reasons.append(f"{metric} {final[metric]:.3g} does not pass {bar:.3g} (floor {floor:.3g}, ceiling "
                           f"{ceiling:.3g})")
        rows = curve.dropna(subset=[metric]) if metric in curve else curve.iloc[0:0]
        change = tail_change(rows["iteration"], rows[metric], int(run["iterations"]), rules["window"]) \
            if len(rows) else None
        tol = tolerance(rules, metric, final[metric])
        if change is None:
            flat_all = False
            reasons.append(f"{metric}: fewer than {MIN_TAIL_ROWS} learning-curve rows in the last "
                           f"{rules['window']:.0%} of training")
        elif abs(change) > tol:
            flat_all = False
            reasons.append(f"{metric} moved {change:+.3g} over the last {rules['window']:.0%} (tolerance {tol:.3g})")
    return {"beats_floor": beats_all, "plateaued": flat_all, "not_trained_because": "; ".join(reasons)}


def memorised(final: dict) -> bool:
    """Whether a run's `memorisation_z` ((mmd − mmd_train) / noise; `final`: {metric: value}) exceeds
    MEMORISED_Z; False without one (no generator, not evaluated)."""
    z = final.get("memorisation_z", np.nan)
    return bool(z > MEMORISED_Z)


def judge(runs: pd.DataFrame, metrics: pd.DataFrame, curves: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """runs.csv with `beats_floor`, `plateaued`, `not_trained_because` (empty when both hold) and `memorised`."""
    refs = references_of(metrics)
    finals = {k: dict(zip(g["metric"], g["value"])) for k, g in
              metrics[~metrics["method"].isin(REFERENCES)].groupby(IDENTITY)}
    curve_of = {k: g for k, g in curves.groupby(IDENTITY)} if len(curves) else {}
    empty = pd.DataFrame(columns=["iteration"])
    verdicts = []
    for run in runs.to_dict("records"):
        key = tuple(run[k] for k in IDENTITY)
        final = finals.get(key, {})
        verdicts.append({**judge_run(run, final, curve_of.get(key, empty), refs, rules),
                         "memorised": run["status"] == "ok" and memorised(final)})
    return pd.concat([runs.reset_index(drop=True), pd.DataFrame(verdicts, columns=[
        "beats_floor", "plateaued", "not_trained_because", "memorised"])], axis=1)


def seed_spread(metrics: pd.DataFrame, names=("hsr", "kld", "auc")) -> dict:
    """The pooled seed-to-seed standard deviation of each final metric: the root mean square, over the (dataset,
    setting, method) cells of finished runs with at least two seeds, of each cell's sd over its seeds (ddof 1),
    weighted by its degrees of freedom; the estimate of one sd common to the cells. NaN for a metric with no such
    cell. The `plateaued` tolerances are twice it (config/config.yaml, `trained:`)."""
    runs = metrics[~metrics["method"].isin(REFERENCES) & (metrics["status"] == "ok")]
    out = {}
    for name in names:
        cells = runs[runs["metric"] == name].groupby(["dataset", "setting", "method"])["value"]
        var, df = cells.var(ddof=1), cells.count() - 1
        keep = df > 0
        out[name] = float(np.sqrt((var[keep] * df[keep]).sum() / df[keep].sum())) if keep.any() else float("nan")
    return out


def spread_of(entries: list[str]) -> tuple[dict, int, int]:
    """seed_spread over the metrics.csv of results folders, `DIR` or `DIR:m1,m2` (some methods of one), together;
    with the number of cells and of runs it rests on."""
    frames = []
    for entry in entries:
        folder, _, names = str(entry).partition(":")
        m = pd.read_csv(f"{folder}/metrics.csv")
        frames.append(m[m["method"].isin(names.split(","))] if names else m)
    m = pd.concat(frames, ignore_index=True)
    own = m[~m["method"].isin(REFERENCES)]
    return seed_spread(m), own.groupby(["dataset", "setting", "method"]).ngroups, len(own[IDENTITY].drop_duplicates())


def truth(runs: pd.DataFrame, column: str) -> pd.Series:
    """A boolean column of runs.csv as booleans (read back from CSV it may hold strings; missing = False)."""
    if column not in runs:
        return pd.Series(False, index=runs.index)
    return runs[column].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))


def is_trained(runs: pd.DataFrame) -> pd.Series:
    """Both facts true, per row of runs.csv."""
    return truth(runs, "beats_floor") & truth(runs, "plateaued")


def failure_text(failure) -> str:
    """"at iteration k" from a diverged run's failure record (a dict or its JSON), else ""."""
    try:
        f = json.loads(failure) if isinstance(failure, str) else failure
        return f"at iteration {f['iteration']}" if f else ""
    except (TypeError, ValueError, KeyError):
        return ""


def main(argv=None) -> None:
    """`python -m evaluation.trained --spread DIR[:m1,m2] …`: the pooled seed-to-seed sd of HSR, KLD and AUC over
    those results, and twice it, the `plateaued` tolerance it implies."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--spread", nargs="+", required=True, metavar="DIR[:m1,m2]",
                        help="results folders (metrics.csv), optionally some of their methods")
    args = parser.parse_args(argv)
    spread, cells, runs = spread_of(args.spread)
    print(f"pooled seed-to-seed sd over {cells} cells ({runs} runs): " +
          ", ".join(f"{k} {v:.4f}" for k, v in spread.items()))
    print("plateaued tolerance (2 sd): " + ", ".join(f"{k} {2 * v:.3f}" for k, v in spread.items()))


if __name__ == "__main__":
    main()
