# The Stein Bridging reproducibility suite: datasets → training → evaluation → aggregates → tables, figures, claims.
#
#   snakemake --cores all                                  # the default profile
#   snakemake --cores 2 --config profile=smoke             # smoke | default | full | paper (config/profiles/)
#   snakemake --cores 2 figures --config profile=default   # redraw tables, figures and claims from the aggregates
#   snakemake --cores 2 figures --config published=true    # … from the published ones (results/published/<profile>/)
#   snakemake --cores 1 bench --config profile=default     # per-iteration cost of every method (harness/bench.py)
#   snakemake --report report.html --config profile=smoke  # HTML report of the tables and figures
#
# The configuration is resolved once (config/config.yaml, then the profile, then --config), validated once, and
# written to results/<profile>/config.yaml; every step reads that file. Rules only wire files together; each calls
# a `python -m` entry point that is usable by hand.
import functools
import shlex
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)
import datasets  # noqa: E402
from methods.harness import config as suite_config  # noqa: E402
from methods.harness.devices import local_executor  # noqa: E402
from methods.harness.runcheck import executing, repair  # noqa: E402
from evaluation.outputs import REFERENCES, TABLES, code_version, evaluation_version, figure_names  # noqa: E402
from evaluation.parts import FILES as PART_FILES, PART, PartError, covered  # noqa: E402

configfile: "config/config.yaml"
try:  # validated in the main process; a cluster job re-reads what was validated there. A cuda device this machine
    # lacks is refused only when the jobs run here (a local executor: methods/harness/devices.py)
    for profile_path in suite_config.profile_files(config["profile"]):  # a profile after the one it `extends:`
        configfile: str(profile_path)
    config.update(suite_config.resolve(config, validate=workflow.is_main_process,
                                       local=workflow.is_main_process and local_executor(sys.argv)))
except (suite_config.ConfigError, ValueError) as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

PROFILE = config["profile"]
OUT = f"results/{PROFILE}"
CONFIG = f"{OUT}/config.yaml"  # the resolved configuration: every step's --config
PUBLISHED = f"results/published/{PROFILE}"  # committed results of this profile (PROVENANCE); the DAG never writes there
RUNS = suite_config.runs(config)
RUN = OUT + "/runs/{dataset}/{setting}/{method}/seed{seed}"
PARTS = f"{PUBLISHED}/parts"  # what earlier sittings of this profile finished (evaluation/parts.py)
try:
    HELD = covered(Path(PARTS), config)  # {run: part}: neither trained nor evaluated here, merged by `aggregate`
except PartError as err:
    raise WorkflowError(f"invalid published part: {err}") from None
JOBS = {job.name: job for job in suite_config.jobs(config, skip=set(HELD))}  # training jobs: one run, or a stack
JOB = OUT + "/jobs/{job}"
EVALUATION = OUT + "/evaluations/{job}"  # a training job's runs are evaluated together
TRAINING_SETS = sorted({(r.dataset, r.setting, r.seed) for r in RUNS})  # each with a ceiling and a floor reference
AGGREGATES = {"metrics": "metrics.csv", "runs": "runs.csv", "curves": "curves.csv", "figure_data": "figure_data.npz"}
AGG = {k: f"{OUT}/{v}" for k, v in AGGREGATES.items()}
FIGURES = figure_names(config)
COMPARE = {"md": f"{OUT}/tables/compare.md", "csv": f"{OUT}/tables/compare.csv"}
EVALUATION_VERSION = evaluation_version()  # changes with the evaluation code: every run is re-evaluated, none retrained
PY = shlex.quote(sys.executable)  # the interpreter running Snakemake: the suite's environment


if workflow.is_main_process and "figures" not in sys.argv[1:]:  # a finished job whose files are damaged runs again
    # (methods/harness/runcheck.py); `figures` redraws from the aggregates alone, so it reads no run folder
    fix = executing(sys.argv)
    for line in repair({name: [f"{OUT}/runs/{r.path}" for r in job.runs] for name, job in JOBS.items()}, Path(OUT),
                       apply=fix):
        print(("Repairing: " if fix else "Damaged (a run without -n moves it aside and reruns its job): ") + line,
              file=sys.stderr)


onstart:
    suite_config.write({k: v for k, v in config.items() if k != "published"}, CONFIG)  # only if its content changed


wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    setting=r"[a-z0-9_.\-]+",
    method=r"[a-z0-9_]+(@[a-z0-9_]+)?",
    seed=r"\d+",
    job=r"[a-z0-9_@/.\-]+",

localrules: all, figures, aggregate, sweep, tables, plots, compare, claims, bilinear_game


SWEEP = {"md": f"{OUT}/tables/sweep.md", "csv": f"{OUT}/tables/sweep.csv"}
OUTPUTS = [*SWEEP.values()] if config.get("sweep") else [  # the sweep profile: its table and chosen recipe alone
    *expand(OUT + "/tables/{table}.{ext}", table=TABLES, ext=["md", "tex", "csv"]),
    *expand(OUT + "/figures/{figure}.{ext}", figure=FIGURES + ["bilinear_game"], ext=["png", "pdf"]),
    *COMPARE.values(), OUT + "/claims.md"]


rule all:
    """The whole reproduction: train and evaluate every run, then every table, figure and the claims report."""
    input: OUTPUTS


def draw(source: str) -> dict:
    """The commands that draw the evidence from the aggregates in `source` (a results folder with its config.yaml),
    shared by their rules and by the `figures` target."""
    common = f"--config {source}/config.yaml --dir {source}"
    return {
        "tables": f"{PY} -m evaluation.tables {common}",
        "plots": f"{PY} -m evaluation.figures {common}",
        "bilinear_game": f"{PY} -m evaluation.bilinear_game --out-dir {source}/figures " + " ".join(
            f"--{k.replace('_', '-')} " + (" ".join(map(str, v)) if isinstance(v, list) else str(v))
            for k, v in config["bilinear_game"].items()),
        "compare": f"{PY} -m evaluation.compare --metrics {source}/metrics.csv --published {PUBLISHED}/metrics.csv "
                   f"--out {source}/tables/compare",
        "claims": f"{PY} -m evaluation.claims {common}" + ("" if source == PUBLISHED else
                                                            f" --compare {source}/tables/compare.csv"),
    }


DRAW = draw(OUT)
# The modules behind each step that reads the aggregates: a change to their code (docstrings and comments aside)
# reruns the step, through its `code` parameter (Snakemake's params trigger), without retraining or re-evaluating.
STEP_CODE = {step: code_version([f"evaluation/{m}.py" for m in modules]) for step, modules in {
    "aggregate": ("aggregate", "trained"), "sweep": ("sweep", "figures", "tables", "trained"),
    "tables": ("tables", "trained"), "plots": ("figures", "tables", "trained"),
    "compare": ("compare",), "claims": ("claims", "caveats", "compare", "tables", "trained")}.items()}
SOURCE = PUBLISHED if config["published"] else OUT  # what `snakemake figures` redraws
REDRAWN_FROM = [f"{SOURCE}/{name}" for name in  # the aggregates it redraws from, of a sweep or of a grid
                (("curves.csv", "runs.csv") if config.get("sweep") else AGGREGATES.values())]
if config["published"] and not all(Path(f).exists() for f in REDRAWN_FROM):
    if Path(PARTS).is_dir():  # a profile over sittings, not all in yet (evaluation/parts.py)
        why = (f"profile {PROFILE!r} is published in parts only, so far ({len(HELD)} runs in "
               f"{len(set(HELD.values()))} parts; {PUBLISHED}/PROVENANCE): its tables, figures and claims are drawn "
               f"once every run is in a part; `snakemake --cores 2 --config profile={PROFILE}` trains the others "
               "and draws them")
    else:
        published = sorted(p.parent.name for p in Path(PUBLISHED).parent.glob("*/runs.csv"))
        why = (f"no published results for profile {PROFILE!r} ({PUBLISHED}/ holds no aggregates); published "
               f"profiles: {', '.join(published)} (--config profile=NAME published=true)")
    raise WorkflowError(f"invalid configuration: published=true: {why}")
REDRAW = (f"{PY} -m evaluation.sweep --config {SOURCE}/config.yaml --dir {SOURCE}" if config.get("sweep") else
          "(" + " && ".join(v for k, v in draw(SOURCE).items() if not (config["published"] and k == "compare")) + ")")


rule figures:
    """Redraw every table, figure and the claims report from the aggregates alone, without training: a rule
    without outputs, so Snakemake runs it whenever it is asked for (e.g. after changing a figure's code). With
    `--config published=true` it redraws the published results (results/published/<profile>/) in place; on a
    sweep profile, its table and figure (evaluation/sweep.py)."""
    input: REDRAWN_FROM
    log: OUT + "/logs/figures.log"
    shell: REDRAW + " > {log} 2>&1"


def data_path(w):
    """`--path DIR` for an image dataset read from a local directory (config `images: paths:`)."""
    path = config["images"]["paths"].get(w.dataset)
    return f"--path {shlex.quote(str(path))}" if path else ""


rule data:
    """The stored training set of one (dataset, setting, seed): every method trains on the same points."""
    output: OUT + "/data/{dataset}/{setting}/seed{seed}.npz"
    log: OUT + "/logs/data/{dataset}/{setting}/seed{seed}.log"
    params: path=data_path
    shell:
        "{PY} -m datasets.make --dataset {wildcards.dataset} --setting {wildcards.setting} "
        "--seed {wildcards.seed} {params.path} --out {output} 2> {log}"


rule classifier:
    """The image track's feature classifier (fid_classifier, is_classifier, class_coverage: evaluation/images.py),
    trained on the clean training split of the dataset; its held-out accuracy is stored beside it."""
    input: OUT + "/data/{dataset}/clean/seed0.npz"
    output: OUT + "/classifiers/{dataset}.pt"
    log: OUT + "/logs/classifier/{dataset}.log"
    benchmark: OUT + "/logs/classifier/{dataset}.benchmark.tsv"
    threads: config["training"]["threads"]
    params: c=config["images"]["classifier"]
    shell:
        "{PY} -m evaluation.classifier --data {input} --out {output} --steps {params.c[steps]} "
        "--batch-size {params.c[batch_size]} --lr {params.c[lr]} --threads {threads} > {log} 2>&1"


@functools.cache
def run_hparams(method: str, dataset: str) -> dict:
    return suite_config.hparams(config, method, dataset)


def job_hparams(w) -> dict:
    """The hyper-parameters of a training job (its runs share them)."""
    first = JOBS[w.job].runs[0]
    return run_hparams(first.method, first.dataset)


def on_gpu(w) -> bool:
    return job_hparams(w)["device"].startswith("cuda")


def data_file(run) -> str:
    return f"{OUT}/data/{run.dataset}/{run.setting}/seed{run.seed}.npz"


def training_inputs(runs) -> dict:
    """The runs' training sets (one per run, in order) and, on the image track, the DAG's feature classifier."""
    inputs = {"data": [data_file(r) for r in runs]}
    if datasets.track(runs[0].dataset) == "image":
        inputs["classifier"] = f"{OUT}/classifiers/{runs[0].dataset}.pt"
    return inputs


def job_inputs(w) -> dict:
    return training_inputs(JOBS[w.job].runs)


def classifier_flag(w, input) -> str:
    return f"--classifier {input.classifier}" if "classifier" in input.keys() else ""


rule train:
    """One training job: one run, or up to `training: stack` runs of a method trained as one stack
    (methods/core/stack.py). Each run writes its own folder (checkpoint.pt, samples.npy, curve.csv, train.json,
    density.npz); the job's output is its record, jobs/<job>.json. checkpoint.pt is deliberately not an output:
    Snakemake deletes outputs before a job runs, and the checkpoint must survive a killed job so that the rerun
    resumes. The job reruns when a run's config hash changes (its hyper-parameters, iterations, data, seed), not
    when threads, device, stacking or the checkpoint and curve cadence do."""
    input: unpack(job_inputs)
    output: JOB + ".json"
    log: JOB + ".log"
    benchmark: JOB + ".benchmark.tsv"
    threads: config["training"]["threads"]
    resources:  # for cluster executors (profiles/slurm): memory and minutes grow with the runs, a GPU for cuda
        mem_mb=lambda w: (4000 if datasets.track(JOBS[w.job].runs[0].dataset) == "image" else 2000) +
                         100 * len(JOBS[w.job].runs),
        runtime=lambda w: max(10, len(JOBS[w.job].runs) * job_hparams(w)["iterations"] // 500),
        gpu=lambda w: int(on_gpu(w)),
        slurm_partition=lambda w: config["cluster"]["gpu_partition" if on_gpu(w) else "cpu_partition"],
    params:
        config_hash=lambda w: [suite_config.config_hash(job_hparams(w), r.dataset, r.setting, r.method, r.seed)
                               for r in JOBS[w.job].runs],
        method=lambda w: JOBS[w.job].method,
        run_dirs=lambda w: [f"{OUT}/runs/{r.path}" for r in JOBS[w.job].runs],
        classifier=classifier_flag,
    shell:
        "{PY} -m methods.harness.train --config {CONFIG} --data {input.data} --method {params.method} "
        "--run-dir {params.run_dirs} --threads {threads} --job-record {output} {params.classifier} >> {log} 2>&1"


rule evaluate:
    """Each run's metrics.json of one training job, from what training wrote (evaluation/evaluate.py), in one
    process; the output is the job's list of metrics files, evaluations/<job>.json. Reruns when the evaluation code
    changes (its fingerprint, evaluation/outputs.py), without retraining. Before any waiting training job: a sitting
    stopped at any moment has evaluated every run it finished, ready to publish (evaluation/parts.py)."""
    priority: 10
    input:
        unpack(job_inputs),
        job=JOB + ".json",
    output: EVALUATION + ".json"
    log: EVALUATION + ".log"
    threads: config["training"]["threads"]
    params:
        evaluation=EVALUATION_VERSION,
        classifier=classifier_flag,
        run_dirs=lambda w: [f"{OUT}/runs/{r.path}" for r in JOBS[w.job].runs],
    shell:
        "{PY} -m evaluation.evaluate --run-dir {params.run_dirs} --data {input.data} {params.classifier} "
        "--threads {threads} --job-record {output} > {log} 2>&1"


rule references:
    """The ceiling (true mixture; real images) and the floor (a Gaussian fitted to the training set; noise images)
    of every stored training set, evaluated by the runs' own code (evaluation/references.py): the reference rows
    of every table and figure, and what `beats_floor` compares against."""
    input:
        data=[f"{OUT}/data/{d}/{s}/seed{k}.npz" for d, s, k in TRAINING_SETS],
        classifiers=sorted({f"{OUT}/classifiers/{d}.pt" for d, _, _ in TRAINING_SETS
                            if datasets.track(d) == "image"}),
    output: [f"{OUT}/references/{d}/{s}/{ref}/seed{k}/metrics.json" for d, s, k in TRAINING_SETS for ref in REFERENCES]
    log: OUT + "/logs/references.log"
    threads: config["training"]["threads"]
    params:
        evaluation=EVALUATION_VERSION,
        code=code_version(["evaluation/references.py"]),
        sizes={d: {k: v for k, v in suite_config.track_hparams(config, d).items()
                   if k in ("curve_samples", "eval_samples", "ood_negatives")}
               for d in sorted({d for d, _, _ in TRAINING_SETS})},
    shell:
        "{PY} -m evaluation.references --config {CONFIG} --out-dir {OUT}/references --classifier-dir {OUT}/classifiers "
        "--data {input.data} --threads {threads} > {log} 2>&1"


rule aggregate:
    """metrics.csv (long format, references included), runs.csv (expected runs, status, cost, trained or not),
    curves.csv, figure_data.npz."""
    input:
        evaluations=[f"{OUT}/evaluations/{name}.json" for name in JOBS],  # every run's metrics.json
        references=rules.references.output,
        parts=[f"{PARTS}/{part}/{f}" for part in sorted(set(HELD.values())) for f in (PART, *PART_FILES)],
    output: **AGG
    log: OUT + "/logs/aggregate.log"
    params:
        trained=config["trained"], code=STEP_CODE["aggregate"],
        parts=f"--parts {PARTS}" if HELD else "",
    shell: "{PY} -m evaluation.aggregate --config {CONFIG} --dir {OUT} {params.parts} > {log} 2>&1"


rule sweep:
    """The sweep profile's table: every grid point's metrics at the budgets, and the point the stated rule chooses
    (evaluation/sweep.py)."""
    input: curves=AGG["curves"], runs=AGG["runs"]
    output: **SWEEP
    log: OUT + "/logs/sweep.log"
    params: code=STEP_CODE["sweep"]
    shell: "{PY} -m evaluation.sweep --config {CONFIG} --dir {OUT} > {log} 2>&1"


rule tables:
    input: metrics=AGG["metrics"], runs=AGG["runs"]
    output:
        expand(OUT + "/tables/{table}.{ext}", table=TABLES, ext=["md", "tex"]),
        [report(f"{OUT}/tables/{t}.csv", category="Tables") for t in TABLES],
    log: OUT + "/logs/tables.log"
    params: code=STEP_CODE["tables"]
    shell: DRAW["tables"] + " > {log} 2>&1"


rule plots:
    input: **AGG
    output:
        [report(f"{OUT}/figures/{f}.png", category="Figures") for f in FIGURES],
        expand(OUT + "/figures/{figure}.pdf", figure=FIGURES),
    log: OUT + "/logs/plots.log"
    params: code=STEP_CODE["plots"]
    shell: DRAW["plots"] + " > {log} 2>&1"


rule compare:
    """The user's numbers against the published ones (results/published/<profile>/metrics.csv), metric by metric
    per (dataset, setting, method): evaluation/compare.py. Without published numbers the table says so."""
    input:
        metrics=AGG["metrics"],
        runs=AGG["runs"],  # its `machine` column: where the fresh runs trained (evaluation/compare.py)
        published=[f"{PUBLISHED}/metrics.csv"] if Path(PUBLISHED, "metrics.csv").exists() else [],
    output: md=COMPARE["md"], csv=report(COMPARE["csv"], category="Tables")
    log: OUT + "/logs/compare.log"
    params: code=STEP_CODE["compare"]
    shell: DRAW["compare"] + " > {log} 2>&1"


rule claims:
    """results/<profile>/claims.md: every claim C1-C8 of the paper (evaluation/claims.py) with its effect, CI over
    seeds and verdict, and how the numbers compare with the published ones."""
    input:
        metrics=AGG["metrics"],
        runs=AGG["runs"],
        bilinear_game=OUT + "/figures/bilinear_game.csv",
        compare=COMPARE["csv"],
    output: report(OUT + "/claims.md", category="Claims")
    log: OUT + "/logs/claims.log"
    params: trained=config["trained"], code=STEP_CODE["claims"]
    shell: DRAW["claims"] + " > {log} 2>&1"


rule bilinear_game:
    """Paper Prop. 1 / Fig. 2 (claim C6): WGAN, its regularised variants and Stein Bridging on the bilinear game;
    a deterministic simulation, no training. Every `bilinear_game:` key becomes a flag."""
    output:
        png=report(OUT + "/figures/bilinear_game.png", category="Figures"),
        pdf=OUT + "/figures/bilinear_game.pdf",
        csv=OUT + "/figures/bilinear_game.csv",
    log: OUT + "/logs/bilinear_game.log"
    shell: DRAW["bilinear_game"] + " > {log} 2>&1"


rule bench:
    """Per-iteration cost of every registered method and of a naive eager Joint-W (methods/harness/bench.py); run
    alone (`snakemake --cores 1 bench`): timings need an otherwise idle core."""
    output: OUT + "/tables/bench.md", OUT + "/tables/bench.csv"
    log: OUT + "/logs/bench.log"
    shell: "{PY} -m methods.harness.bench --config {CONFIG} --dataset two_circle --out {OUT}/tables/bench > {log} 2>&1"
