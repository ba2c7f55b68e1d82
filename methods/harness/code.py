"""Fingerprints of code: which code made a number, with docstrings and comments left out (editing either changes
no number). The training runner records `training_version` in every run's train.json; evaluation/outputs.py takes
the evaluation's from `code_version`; published parts are merged only across equal fingerprints
(evaluation/parts.py). Imports nothing heavy: the Snakefile uses it to plan the DAG."""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _code(path: Path) -> str:
    """The module's syntax tree without its docstrings."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_version(names, root: Path = ROOT) -> str:
    """A short fingerprint of the modules `names` (paths below the repository root)."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + _code(root / name).encode() + b"\0")
    return digest.hexdigest()[:12]


def training_code(root: Path = ROOT) -> list[str]:
    """The code that turns a configuration into a trained run: every module of datasets/ and methods/ but the tools
    run by hand (the bench, the status report)."""
    return sorted(str(p.relative_to(root)) for d in ("datasets", "methods") for p in (root / d).rglob("*.py")
                  if p.name not in ("bench.py", "status.py"))


def training_version(root: Path = ROOT) -> str:
    """The fingerprint of the training code: recorded in every run's train.json (runs.csv `train_code`), so that a
    published part is merged only with runs that the same code trained (evaluation/parts.py)."""
    return code_version(training_code(root), root)
