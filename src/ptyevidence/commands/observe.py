"""``ptyevidence observe FIXTURE``: run PtychoPINN's pipelines and check the contracts."""

from __future__ import annotations

import argparse
import sys

from ._common import add_force, add_interpreter, add_json, call_with_args, emit_json, real_number


def _gridsizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1 or len(set(values)) != len(values):
        msg = f"gridsize list '{text}' is not distinct whole numbers >= 1 separated by commas (e.g. 1,2)"
        raise argparse.ArgumentTypeError(msg)
    return values


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``observe`` subcommand."""
    p = sub.add_parser(
        "observe",
        help="run PtychoPINN's TF and Torch pipelines on a fixture and check their contracts",
        description="Run the TF path (RawData.from_file, generate_grouped_data, loader.load) and "
        "the Torch path (PtychoDataset) on FIXTURE, each in its own subprocess of the "
        "interpreter that has PtychoPINN, capture every tensor, and write the dumps and an "
        "observed gap matrix: per role the contract's claim next to the observed shape, dtype, "
        "axes and values, and the parity of both pipelines on the same groups (TF's group "
        "builder is fed the Torch nn_indices). Claims the run contradicts are listed as contract "
        "drift. Exit 0: written (drift is reported); 1: drift with --strict; 2: unusable input, "
        "PtychoPINN/TensorFlow/PyTorch not importable, or a pipeline failed.",
    )
    p.add_argument(
        "fixture", metavar="FIXTURE", help="fixture NPZ with diff3d (make it with 'fixture make --legacy-alias')"
    )
    add_interpreter(p)
    p.add_argument(
        "--gridsize",
        type=_gridsizes,
        default=(1, 2),
        metavar="G[,G...]",
        help="gridsizes to run, C = G*G channels (default: 1,2)",
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pipeline setting, repeatable: N, seed (both pipelines); nsamples or tf.NAME "
        "(generate_grouped_data); DataConfig.NAME, ModelConfig.NAME or a plain field "
        "name (Torch). Defaults: N=64 K=4 nsamples=48 seed=0, Torch configs as defined",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default: observe-<fixture stem> in the current folder)")
    p.add_argument(
        "--timeout",
        type=real_number("timeout"),
        default=600.0,
        metavar="SECONDS",
        help="time each pipeline subprocess may take (default: 600)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when there is contract drift")
    add_force(p)
    add_json(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..gap.observe import observe

    report = call_with_args(observe, args, gridsizes=args.gridsize)
    if args.json:
        emit_json(report.to_dict())
    else:
        sys.stdout.write(report.to_text())
    if report.drift:
        print(
            f"ptyevidence: {len(report.drift)} contract drift item(s); see {report.out_dir}/observed_gap_matrix.md",
            file=sys.stderr,
        )
    return 1 if args.strict and report.drift else 0
