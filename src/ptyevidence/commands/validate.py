"""``ptyevidence validate PATH``: check a dataset against a contract."""

from __future__ import annotations

import argparse

from ._common import add_contract, add_json, add_layout, add_reader, emit_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand."""
    p = sub.add_parser(
        "validate",
        help="check a dataset file against a contract",
        description="Check a dataset (NPZ, or CXI/HDF5) against a contract. Exit 0: no error "
        "findings; 1: contract violations; 2: unusable input.",
    )
    p.add_argument("path", help="dataset file")
    add_contract(p, default=None)
    add_layout(p)
    add_reader(p)
    add_json(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..contract.validate import validate_dataset
    from ..readers.registry import default_contract_for

    contract = args.contract or default_contract_for(args.path, args.reader, args.positions_from)
    report = validate_dataset(args.path, contract, layout=args.layout, reader=args.reader,
                              positions_from=args.positions_from)
    if args.json:
        emit_json(report.to_dict())
    else:
        print(report.to_text())
    return 0 if report.ok else 1
