"""Entry point of the `neutrino` command."""

from __future__ import annotations

import importlib
import sys

# These words belong to the lab/demo tool (neutrino.lab.cli), not to the API client.
LAB_WORDS = ("demo", "lab")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in LAB_WORDS:
        return run_lab(args)
    # Imported here so that `neutrino demo` does not pay for cliff and keystoneauth.
    from neutrino.cli.app import NeutrinoApp
    return NeutrinoApp().run(args)


def run_lab(args: list[str]) -> int:
    try:
        lab_cli = importlib.import_module("neutrino.lab.cli")
    except ImportError as exc:
        if exc.name not in ("neutrino.lab.cli", "neutrino.lab"):
            raise
        sys.stderr.write(f"neutrino {args[0]}: the lab is not installed "
                         "(neutrino.lab.cli is missing)\n")
        return 1
    result = lab_cli.main(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
