"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._layout import LAYOUTS

__all__ = ["add_contract", "add_force", "add_json", "add_layout", "emit_json"]


def add_layout(parser: argparse.ArgumentParser) -> None:
    """Add ``--layout auto|canonical|legacy``."""
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="auto",
        help="stored order of the diffraction stack: (N,H,W) canonical or (H,W,N) legacy; "
        "auto decides from the shapes and refuses when ambiguous (default: auto)",
    )


def add_contract(parser: argparse.ArgumentParser, default: str | None = "data001") -> None:
    """Add ``--contract NAME|PATH``."""
    parser.add_argument(
        "--contract", metavar="NAME|PATH", default=default,
        help="built-in contract name or contract JSON file"
        + (f" (default: {default})" if default else " (default: by file format)"),
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``."""
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON report")


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force``."""
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    json.dump(data, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
