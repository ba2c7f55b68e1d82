# The Stein Bridging reproducibility suite: datasets → training → evaluation → aggregates → tables, figures, claims.
#
#   snakemake --cores all                                  # the default profile
#   snakemake --cores 2 --config profile=smoke             # smoke | default | paper (config/profiles/)
#   snakemake --cores 2 figures --config profile=default   # redraw tables, figures and claims from the aggregates
#   snakemake --cores 1 bench --config profile=default     # per-iteration cost of every method (methods/harness/bench.py)
#   snakemake --report report.html --config profile=smoke  # HTML report of the tables and figures
#
# Rules only wire files together; each calls a `python -m` entry point that is usable by hand.
import json
import shlex
import sys

from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)
import datasets  # noqa: E402
from methods.harness import config as suite_config  # noqa: E402
from evaluation.figures import figure_names  # noqa: E402
from evaluation.tables import TABLES  # noqa: E402
from evaluation.trained import REFERENCES  # noqa: E402

configfile: "config/config.yaml"
try:  # the suite's checks first: their messages name the key and the valid choices
    configfile: str(suite_config.profile_file(config["profile"]))
    suite_config.check(config)
    validate(config, "config/schema.yaml")
except (suite_config.ConfigError, ValueError) as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

PROFILE = config["profile"]
OUT = f"results/{PROFILE}"
RUNS = suite_config.runs(config)
RUN = OUT + "/runs/{dataset}/{setting}/{method}/seed{seed}"
TRAINING_SETS = sorted({(r.dataset, r.setting, r.seed) for r in RUNS})  # each with a ceiling and a floor reference
AGGREGATES = [f"{OUT}/{name}" for name in ("metrics.csv", "runs.csv", "curves.csv", "figure_data.npz")]
FIGURES = figure_names(config)
PY = shlex.quote(sys.executable)  # the interpreter running Snakemake: the suite's environment

wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    setting=r"[a-z0-9_.\-]+",
    method=r"[a-z0-9_]+(@[a-z0-9_]+)?",
    seed=r"\d+",

localrules: all, figures, aggregate, tables, plots, claims, bilinear_game


OUTPUTS = [*expand(OUT + "/tables/{table}.{ext}", table=TABLES, ext=["md", "tex", "csv"]),
           *expand(OUT + "/figures/{figure}.{ext}", figure=FIGURES + ["bilinear_game"], ext=["png", "pdf"]),
           OUT + "/claims.md"]


rule all:
    """The whole reproduction: train every run, then every table, figure and the claims report."""
    input: OUTPUTS


# The commands that draw the evidence from the aggregates, shared by their rules and by the `figures` target.
DRAW = {
    "tables": f"{PY} -m evaluation.tables --profile {PROFILE} --results results",
    "plots": f"{PY} -m evaluation.figures --profile {PROFILE} --results results",
    "bilinear_game": f"{PY} -m evaluation.bilinear_game --out-dir {OUT}/figures " + " ".join(
        f"--{k.replace('_', '-')} " + (" ".join(map(str, v)) if isinstance(v, list) else str(v))
        for k, v in config["bilinear_game"].items()),
    "claims": f"{PY} -m evaluation.claims --profile {PROFILE} --results results",
}


rule figures:
    """Redraw every table, figure and the claims report from the aggregates alone, without training: a rule
    without outputs, so Snakemake runs it whenever it is asked for (e.g. after changing a figure's code)."""
    input: AGGREGATES
    shell: " && ".join(DRAW.values())


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
    """The image track's feature classifier (SPEC §4.4: fid_classifier, is_classifier, class_coverage), trained
    on the clean training split of the dataset; its held-out accuracy is stored beside it."""
    input: OUT + "/data/{dataset}/clean/seed0.npz"
    output: OUT + "/classifiers/{dataset}.pt"
    log: OUT + "/logs/classifier/{dataset}.log"
    benchmark: OUT + "/logs/classifier/{dataset}.benchmark.tsv"
    threads: config["training"]["threads"]
    params: c=config["images"]["classifier"]
    shell:
        "{PY} -m evaluation.classifier --data {input} --out {output} --steps {params.c[steps]} "
        "--batch-size {params.c[batch_size]} --lr {params.c[lr]} --threads {threads} > {log} 2>&1"


def on_gpu(w) -> bool:
    return suite_config.hparams(config, w.method, w.dataset)["device"].startswith("cuda")


def train_inputs(w):
    inputs = {"data": f"{OUT}/data/{w.dataset}/{w.setting}/seed{w.seed}.npz"}
    if datasets.is_image(w.dataset):
        inputs["classifier"] = f"{OUT}/classifiers/{w.dataset}.pt"
    return inputs


rule train:
    """One run: training, then its evaluation in the same process (metrics.json; the model is in memory, and a
    separate job would spend seconds importing torch). checkpoint.pt is deliberately not an output: Snakemake
    deletes outputs before a job runs, and the checkpoint must survive a killed job so that the rerun resumes."""
    input: unpack(train_inputs)
    output:
        status=RUN + "/train.json",
        samples=RUN + "/samples.npy",
        curve=RUN + "/curve.csv",
        metrics=RUN + "/metrics.json",
    log: RUN + "/log.txt"
    benchmark: RUN + "/benchmark.tsv"
    threads: config["training"]["threads"]
    resources:  # for cluster executors (profiles/slurm): memory, minutes, and a GPU for a cuda job
        mem_mb=lambda w: 4000 if datasets.is_image(w.dataset) else 2000,
        runtime=lambda w: max(10, suite_config.hparams(config, w.method, w.dataset)["iterations"] // 500),
        gpu=lambda w: int(on_gpu(w)),
        slurm_partition=lambda w: config["cluster"]["gpu_partition" if on_gpu(w) else "cpu_partition"],
    params:
        hp=lambda w: shlex.quote(json.dumps(suite_config.hparams(config, w.method, w.dataset), sort_keys=True)),
        classifier=lambda w, input: f"--classifier {input.classifier}" if "classifier" in input.keys() else "",
        run_dir=RUN,
    shell:
        "{PY} -m methods.harness.train --data {input.data} --method {wildcards.method} --run-dir {params.run_dir} "
        "--hparams {params.hp} --threads {threads} {params.classifier} >> {log} 2>&1"


rule references:
    """The ceiling (true mixture; real images) and the floor (a Gaussian fitted to the training set; noise images)
    of every stored training set, evaluated by the runs' own code (evaluation/references.py): the reference rows
    of every table and figure, and what `beats_floor` compares against."""
    input:
        data=[f"{OUT}/data/{d}/{s}/seed{k}.npz" for d, s, k in TRAINING_SETS],
        classifiers=sorted({f"{OUT}/classifiers/{d}.pt" for d, _, _ in TRAINING_SETS if datasets.is_image(d)}),
    output: [f"{OUT}/references/{d}/{s}/{ref}/seed{k}/metrics.json" for d, s, k in TRAINING_SETS for ref in REFERENCES]
    log: OUT + "/logs/references.log"
    threads: config["training"]["threads"]
    params:
        sizes=f"--curve-samples {config['training']['curve_samples']} "
              f"--image-curve-samples {config['images']['hparams'].get('curve_samples', 0)} "
              f"--eval-samples {config['images']['eval_samples']} --ood-negatives {config['images']['ood_negatives']}"
    shell:
        "{PY} -m evaluation.references --out-dir {OUT}/references --classifier-dir {OUT}/classifiers "
        "--data {input.data} {params.sizes} --threads {threads} > {log} 2>&1"


rule aggregate:
    """metrics.csv (long format, references included), runs.csv (expected runs, status, cost, trained or not),
    curves.csv, figure_data.npz."""
    input:
        [f"{OUT}/runs/{r.path}/metrics.json" for r in RUNS],
        rules.references.output,
    output: AGGREGATES
    shell: "{PY} -m evaluation.aggregate --profile {PROFILE} --results results"


rule tables:
    input: AGGREGATES[:2]
    output:
        expand(OUT + "/tables/{table}.{ext}", table=TABLES, ext=["md", "tex"]),
        [report(f"{OUT}/tables/{t}.csv", category="Tables") for t in TABLES],
    shell: DRAW["tables"]


rule plots:
    input: AGGREGATES
    output:
        [report(f"{OUT}/figures/{f}.png", category="Figures") for f in FIGURES],
        expand(OUT + "/figures/{figure}.pdf", figure=FIGURES),
    shell: DRAW["plots"]


rule claims:
    """results/<profile>/claims.md: every claim of SPEC §6 with its effect, CI over seeds and verdict."""
    input: AGGREGATES[:2], OUT + "/figures/bilinear_game.csv"
    output: report(OUT + "/claims.md", category="Claims")
    shell: DRAW["claims"]


rule bilinear_game:
    """Paper Prop. 1 / Fig. 2 (SPEC §6 C6): WGAN, its regularised variants and Stein Bridging on the bilinear game;
    a deterministic simulation, no training. Every `bilinear_game:` key becomes a flag."""
    output:
        png=report(OUT + "/figures/bilinear_game.png", category="Figures"),
        pdf=OUT + "/figures/bilinear_game.pdf",
        csv=OUT + "/figures/bilinear_game.csv",
    shell: DRAW["bilinear_game"]


rule bench:
    """Per-iteration cost of every registered method and of a naive eager Joint-W (methods/harness/bench.py); run alone
    (`snakemake --cores 1 bench`): timings need an otherwise idle core."""
    output: OUT + "/tables/bench.md", OUT + "/tables/bench.csv"
    log: OUT + "/logs/bench.log"
    shell: "{PY} -m methods.harness.bench --dataset two_circle --out {OUT}/tables/bench > {log} 2>&1"
