"""``ptyevidence torch-check FIXTURE``: load a dataset through a PyTorch DataLoader."""

from __future__ import annotations

import argparse

from ._common import (
    add_contract,
    add_json,
    add_layout,
    call_with_args,
    print_report,
    whole_number,
)

#: Kept here (not imported from torch_compat) so that building the parser stays light.
_COORDS_DTYPES = ("float64", "float32")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``torch-check`` subcommand."""
    p = sub.add_parser(
        "torch-check",
        help="check that a dataset feeds a PyTorch DataLoader with the expected tensors",
        description="Wrap the file in a map-style Dataset (memory-mapped where possible), "
        "iterate a torch.utils.data.DataLoader with 0 and 2 workers, and report per tensor: "
        "dtype (diffraction float32, probe/object complex64, coordinates --coords-dtype), "
        "per-item and batched shape, contiguity, and whether values equal the file's. "
        "Needs the `torch` extra. Exit 0: every tensor as expected; 1: a mismatch; "
        "2: unusable input or PyTorch not installed.",
    )
    p.add_argument("fixture", metavar="FIXTURE", help="dataset file (e.g. a fixture NPZ)")
    add_contract(p)
    add_layout(p)
    p.add_argument(
        "--batch-size", type=whole_number(1, "batch size"), default=8, metavar="B", help="items per batch (default: 8)"
    )
    p.add_argument(
        "--coords-dtype",
        choices=_COORDS_DTYPES,
        default="float64",
        help="tensor dtype of the scan coordinates; float32 rounds float64 "
        "positions, reported as not exact (default: float64)",
    )
    add_json(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..gap.torch_check import check_torch_loading

    report = call_with_args(check_torch_loading, args, args.fixture)
    return print_report(report, args.json, ok=report.ok)
