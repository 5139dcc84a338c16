"""``ptyevidence validate PATH``: check a dataset against a contract."""

from __future__ import annotations

import argparse

from ._common import (
    add_contract,
    add_geometry,
    add_json,
    add_layout,
    add_reader,
    call_with_args,
    print_report,
    whole_number,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand."""
    p = sub.add_parser(
        "validate",
        help="check a dataset file against a contract",
        description="Check a dataset (NPZ, or CXI/HDF5) against a contract: a dataset contract "
        "(data001, legacy, raw...) or a consumer profile (ptychopinn-tf: will PtychoPINN's "
        "RawData.from_file load it, and if not, why; ptychopinn-torch: the same for its "
        "PtychoDataset). Exit 0: no error findings; 1: contract violations; 2: unusable input.",
    )
    p.add_argument("path", help="dataset file")
    add_contract(p, default=None)
    add_layout(p)
    add_reader(p)
    add_geometry(p)
    p.add_argument(
        "--record",
        metavar="JSON",
        help="record the contract's record rules read, e.g. a fixture's sidecar for "
        "--contract fixture-acceptance (default: PATH with .json, if present)",
    )
    p.add_argument(
        "--jobs",
        type=whole_number(1, "jobs"),
        default=1,
        metavar="K",
        help="read and check the blocks of a large uncompressed NPZ member or CXI frame "
        "stack on K threads (default: 1); the report is the same for any K",
    )
    add_json(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..contract.validate import validate_dataset
    from ..readers.registry import default_contract_for

    contract = args.contract or call_with_args(default_contract_for, args)
    report = call_with_args(validate_dataset, args, args.path, contract)
    return print_report(report, args.json, ok=report.ok)
