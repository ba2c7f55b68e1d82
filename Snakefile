# The Stein Bridging reproducibility suite: datasets → training → evaluation → metrics.csv → tables and figures.
#
#   snakemake --cores all                              # the default profile
#   snakemake --cores 2 --config profile=smoke         # smoke | default | paper (config/profiles/)
#
# Rules only wire files together; each calls a `python -m` entry point that is usable by hand.
import json
import shlex
import sys

from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)
from methods import config as suite_config  # noqa: E402

configfile: "config/config.yaml"
try:
    configfile: str(suite_config.profile_file(config["profile"]))
    validate(config, "config/schema.yaml")
    suite_config.check(config)
except (suite_config.ConfigError, ValueError) as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

PROFILE = config["profile"]
OUT = f"results/{PROFILE}"
RUNS = suite_config.runs(config)
RUN = OUT + "/runs/{dataset}/{setting}/{method}/seed{seed}"
TABLES = ["synthetic", "modes", "runtime"]
PY = shlex.quote(sys.executable)  # the interpreter running Snakemake: the suite's environment

wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    setting=r"[a-z0-9_.\-]+",
    method=r"[a-z0-9_]+(@[a-z0-9_]+)?",
    seed=r"\d+",

localrules: all, aggregate, tables, figures, bilinear_game


rule all:
    input:
        expand(OUT + "/tables/{table}.md", table=TABLES),
        OUT + "/figures/samples.png",
        OUT + "/figures/bilinear_game.png",


rule data:
    """The stored training set of one (dataset, setting, seed): every method trains on the same points."""
    output: OUT + "/data/{dataset}/{setting}/seed{seed}.npz"
    log: OUT + "/logs/data/{dataset}/{setting}/seed{seed}.log"
    shell:
        "{PY} -m datasets.make --dataset {wildcards.dataset} --setting {wildcards.setting} "
        "--seed {wildcards.seed} --out {output} 2> {log}"


rule train:
    """One run: training, then its evaluation in the same process (metrics.json; the model is in memory, and a
    separate job would spend seconds importing torch). checkpoint.pt is deliberately not an output: Snakemake
    deletes outputs before a job runs, and the checkpoint must survive a killed job so that the rerun resumes."""
    input: data=rules.data.output[0]
    output:
        status=RUN + "/train.json",
        samples=RUN + "/samples.npy",
        curve=RUN + "/curve.csv",
        metrics=RUN + "/metrics.json",
    log: RUN + "/log.txt"
    benchmark: RUN + "/benchmark.tsv"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
        runtime=lambda w: max(10, config["training"]["iterations"] // 500),  # minutes, for cluster executors
    params:
        hp=lambda w: shlex.quote(json.dumps(suite_config.hparams(config, w.method), sort_keys=True)),
        run_dir=RUN,
    shell:
        "{PY} -m methods.train --data {input.data} --method {wildcards.method} --run-dir {params.run_dir} "
        "--hparams {params.hp} --threads {threads} >> {log} 2>&1"


rule aggregate:
    """results/<profile>/metrics.csv (long format) and runs.csv (expected runs and their status)."""
    input: [f"{OUT}/runs/{r.path}/metrics.json" for r in RUNS]
    output:
        metrics=OUT + "/metrics.csv",
        runs=OUT + "/runs.csv",
    shell: "{PY} -m evaluation.aggregate --profile {PROFILE} --results results"


rule tables:
    input: rules.aggregate.output
    output: expand(OUT + "/tables/{table}.{ext}", table=TABLES, ext=["md", "tex", "csv"])
    shell: "{PY} -m evaluation.tables --profile {PROFILE} --results results"


rule figures:
    input: rules.aggregate.output
    output: OUT + "/figures/samples.png", OUT + "/figures/samples.pdf"
    shell: "{PY} -m evaluation.figures --profile {PROFILE} --results results"


rule bilinear_game:
    """Paper Prop. 1 / Fig. 2 (SPEC §6 C6): WGAN, its regularised variants and Stein Bridging on the bilinear game;
    a deterministic simulation, no training. Every `bilinear_game:` key becomes a flag."""
    output:
        png=OUT + "/figures/bilinear_game.png",
        pdf=OUT + "/figures/bilinear_game.pdf",
        csv=OUT + "/figures/bilinear_game.csv",
    params:
        flags=" ".join(f"--{k.replace('_', '-')} " + (" ".join(map(str, v)) if isinstance(v, list) else str(v))
                       for k, v in config["bilinear_game"].items()),
    shell: "{PY} -m evaluation.bilinear_game --out-dir {OUT}/figures {params.flags}"
