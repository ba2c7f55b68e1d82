"""Every registered method with its kind and its declared parameters (name, declared default, the value runs get,
valid values, meaning):

    python -m methods [NAME …] [--profile PROFILE]

`declared` is the method's own default (its file); `runs with` is what a 2-D run of the profile (default: `default`,
what a bare `snakemake` runs) gets after config/config.yaml's `methods: <name>:` entry and the profile
(methods/harness/config.py `hparams`), marked `*` where it differs. A preset (`name@preset`) and, on images,
`images: hparams:` change it further. Shared-section keys that a method's entry overrides are listed below its own.
"""
from __future__ import annotations

import argparse

import methods

DIFFERS = "*"  # marks a value that config.yaml or the profile sets away from the declared default


def valid(param) -> str:
    """The valid values of a Param, in words."""
    if param.choices:
        text = " | ".join(map(str, param.choices))
    else:
        text = param.kind.__name__ if param.kind is not None else "any"
        if param.low is not None or param.high is not None:
            text += " in [" + ("−∞" if param.low is None else f"{param.low:g}") + ", " + \
                    ("∞" if param.high is None else f"{param.high:g}") + "]"
    return text + (" or null" if param.nullable else "")


def runs_with(declared, value) -> str:
    return repr(value) + (f" {DIFFERS}" if value != declared else "")


def describe(name: str, resolved: dict | None = None, shared: dict | None = None) -> str:
    """The listing of method `name`. `resolved`: the hyper-parameters its runs get (`hparams`), which adds the
    `runs with` column; `shared`: the shared sections' values (`track_hparams`), to list the shared keys the
    method's entry overrides. Without `resolved`, the declared defaults alone."""
    cls = methods.get(name)
    roles = [role for role, has in (("generator", cls.has_generator), ("energy", cls.has_energy)) if has]
    lines = [f"{name}  ({cls.kind}; {' + '.join(roles)})"]
    if not cls.hyperparameters:
        lines.append("    (no parameters of its own: only the shared sections of config/config.yaml)")
    header = ("parameter", "declared", *(("runs with",) if resolved is not None else ()), "valid values", "meaning")
    rows = [(key, repr(p.default), *((runs_with(p.default, resolved[key]),) if resolved is not None else ()),
             valid(p), p.help) for key, p in cls.hyperparameters.items()]
    if rows:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            lines.append("    " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)) + "  " + row[-1])
    overridden = {k: v for k, v in (resolved or {}).items()
                  if k not in cls.hyperparameters and k in (shared or {}) and v != shared[k]}
    if overridden:
        lines.append("    shared keys this method's entry overrides: " +
                     ", ".join(f"{k} {v!r} (shared sections: {shared[k]!r})" for k, v in overridden.items()))
    return "\n".join(lines)


def resolved_of(profile: str, names: list[str]) -> tuple[dict, dict]:
    """({name: its 2-D runs' hyper-parameters}, the shared sections' values) under `profile`; a method without an
    entry under `methods:` runs nowhere and gets none."""
    from methods.harness import config as suite_config  # the resolution the DAG uses

    cfg = suite_config.load(profile, validate=False)  # the listing reads values; the DAG validates them
    return ({name: suite_config.hparams(cfg, name) for name in names if name in cfg["methods"]},
            suite_config.track_hparams(cfg))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m methods", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="methods to list (default: all)")
    parser.add_argument("--profile", default="default",
                        help="the profile whose runs' values the `runs with` column shows (config/profiles/)")
    args = parser.parse_args(argv)
    names = args.names or methods.available()
    try:
        for name in names:
            methods.get(name)  # an unknown name: its message, before resolving the configuration
        resolved, shared = resolved_of(args.profile, names)
    except ValueError as err:  # an unknown method or profile (ConfigError is a ValueError)
        parser.exit(2, f"error: {err}\n")
    print(f"declared: the method's default; runs with: a 2-D run of profile `{args.profile}` (config/config.yaml, "
          f"then config/profiles/{args.profile}.yaml), {DIFFERS} where it differs\n")
    print("\n\n".join(describe(name, resolved.get(name), shared) if name in resolved else
                      describe(name) + "\n    (no entry under `methods:` in config/config.yaml: no run uses it)"
                      for name in names))


if __name__ == "__main__":
    main()
