"""Every registered method with its kind and its declared parameters (name, default, valid values, meaning):

    python -m methods [NAME …]

The defaults are the methods' own; config/config.yaml (`methods: <name>:`) and the profiles override them.
"""
from __future__ import annotations

import argparse

import methods


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


def describe(name: str) -> str:
    cls = methods.get(name)
    roles = [role for role, has in (("generator", cls.has_generator), ("energy", cls.has_energy)) if has]
    lines = [f"{name}  ({cls.kind}; {' + '.join(roles)})"]
    if not cls.hyperparameters:
        lines.append("    (no parameters of its own: only the shared sections of config/config.yaml)")
    rows = [(key, repr(p.default), valid(p), p.help) for key, p in cls.hyperparameters.items()]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    for key, default, values, help_ in rows:
        lines.append(f"    {key:<{widths[0]}}  {default:<{widths[1]}}  {values:<{widths[2]}}  {help_}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m methods", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="methods to list (default: all)")
    args = parser.parse_args(argv)
    print("\n\n".join(describe(name) for name in args.names or methods.available()))


if __name__ == "__main__":
    main()
