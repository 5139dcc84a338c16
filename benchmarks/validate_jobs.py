"""Time `validate --jobs 1` against `--jobs 2` on one large uncompressed NPZ source; print the ceilings.

Writes a synthetic DATA-001 source (``_inputs.py``, about 2 GB by default) to
a temporary folder, reads it once with ``cat`` so it is page-cache warm, then
runs ``ptyevidence validate --jobs K`` as child processes, alternating K
round by round so that both see the same load on a shared machine. Each
child's wall time runs from spawn to reap, its peak RSS comes from the
kernel's resource usage of that child (``os.wait4``). The rate is the file
size over the wall time, end to end and net of the start-up floor
(``ptyevidence --version``).

Then, in this process and on the same file, it times what one pass of the
diffraction member costs, with 1 and 2 threads reading 16 MiB blocks at
their offsets: the plain read (the page-cache copy), the read plus the zip
CRC-32, the read plus the value statistics, and all three (what
``--jobs`` does per block). "cores busy" is the CPU time of the pass over
its wall time. Prints Markdown tables; removes the folder unless --keep.

This process stays small until the children have run (the source is
written by a child, numpy is imported afterwards): a child's peak RSS as
the kernel reports it includes its parent's peak at the moment it was
spawned (vfork, then exec, keeps the shared memory's high-water mark).

Usage::

    .venv/bin/python benchmarks/validate_jobs.py                      # 2.15 GB source
    .venv/bin/python benchmarks/validate_jobs.py --rounds 7 --wait-idle 60 --workdir /tmp
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zlib

from run import FRAME, GB, PY, cpu_busy, run_child, wait_for_idle

HERE = os.path.dirname(os.path.abspath(__file__))
JOBS = (1, 2)
#: Bytes per block of the in-process passes: the readers' block size (readers.common.BLOCK_BYTES).
BLOCK = 16 * 2**20


def validate_runs(src: str, rounds: int, wait_idle: float) -> tuple[dict[int, list], float, bool]:
    """Alternate `validate --jobs K` children; return the runs per K, the start-up floor, same output."""
    floor = min(run_child("floor", [PY, "-m", "ptyevidence", "--version"]).wall_s for _ in range(3))
    runs: dict[int, list] = {k: [] for k in JOBS}
    outputs = set()
    for r in range(rounds):
        for jobs in JOBS if r % 2 == 0 else JOBS[::-1]:
            busy = wait_for_idle(wait_idle) if wait_idle > 0 else cpu_busy(0.3)
            run = run_child(f"--jobs {jobs}", [PY, "-m", "ptyevidence", "validate", "--jobs", str(jobs), src])
            if run.returncode != 0:
                msg = f"validate --jobs {jobs} failed (exit {run.returncode}):\n{run.output}"
                raise SystemExit(msg)
            run.busy_before = busy
            runs[jobs].append(run)
            outputs.add(run.output)
    return runs, floor, len(outputs) == 1


def one_pass(path: str, offset: int, nbytes: int, threads: int, work) -> tuple[float, float]:
    """Read ``nbytes`` at ``offset`` in blocks on ``threads`` threads, calling ``work`` on each."""
    import numpy as np

    from ptyevidence.readers.common import ordered_map

    local = threading.local()

    def task(pos: int) -> None:
        if getattr(local, "buffer", None) is None:
            local.buffer = np.empty(BLOCK, np.uint8)
        raw = local.buffer[: min(BLOCK, nbytes - pos)]
        with open(path, "rb", buffering=0) as fh:
            fh.seek(offset + pos)
            view, got = memoryview(raw), 0
            while got < raw.nbytes:
                got += fh.readinto(view[got:])
        work(raw)

    start, cpu = time.perf_counter(), time.process_time()
    for _ in ordered_map(task, range(0, nbytes, BLOCK), threads):
        pass
    wall = time.perf_counter() - start
    return wall, (time.process_time() - cpu) / wall


def ceilings(src: str, rounds: int) -> list[tuple[str, int, float, float, float]]:
    """Fastest of ``rounds`` in-process passes over the diffraction member, per pass and thread count."""
    import numpy as np

    from ptyevidence.contract.validate import ArrayStats
    from ptyevidence.readers.npz import NpzSource

    def stats(raw):
        ArrayStats().update(raw.view(np.float32))

    def crc_and_stats(raw):
        zlib.crc32(raw)
        stats(raw)

    passes = {
        "read only (page-cache copy)": lambda raw: None,
        "read + CRC-32": zlib.crc32,
        "read + statistics": stats,
        "read + CRC-32 + statistics (--jobs)": crc_and_stats,
    }
    with NpzSource(src) as source:
        info = source.info("diffraction")
    rows = []
    for name, work in passes.items():
        for threads in JOBS:
            best = min(
                (one_pass(src, info.data_offset, info.nbytes, threads, work) for _ in range(rounds)), key=lambda r: r[0]
            )
            busy = cpu_busy(0.3)
            rows.append((name, threads, info.nbytes / best[0] / GB, best[1], busy))
    return rows


def machine() -> str:
    import numpy as np

    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line for line in fh if line.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration):
        pass
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, zlib {zlib.ZLIB_RUNTIME_VERSION}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.15, help="diffraction payload in GB (default 2.15)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per --jobs value (default 5)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to SECONDS for other processes to use < 10%% "
        "of the CPUs; the load seen is reported either way",
    )
    parser.add_argument("--workdir", default=None, help="parent of the temporary folder (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated source")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    # Bytecode written as an installed package has it (see run.compile_bytecode), in a child.
    package = importlib.util.find_spec("ptyevidence").submodule_search_locations[0]
    compile = run_child("compile", [PY, "-m", "compileall", "-q", package])
    work = tempfile.mkdtemp(prefix="ptyevidence-jobs-", dir=args.workdir)
    try:
        src = os.path.join(work, "canonical.npz")
        frames = max(1024, round(args.size_gb * GB / (FRAME * FRAME * 4)))
        written = run_child(
            "write source", [PY, os.path.join(HERE, "_inputs.py"), src, "--frames", str(frames), "--frame", str(FRAME)]
        )
        if compile.returncode or written.returncode:
            msg = f"could not prepare the source:\n{compile.output}{written.output}"
            raise SystemExit(msg)
        size = os.path.getsize(src)
        run_child("cat (warm-up)", ["cat", src], capture=False)
        runs, floor, same = validate_runs(src, args.rounds, args.wait_idle)
        rows = ceilings(src, args.rounds)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"- {machine()}")
    print(f"- source: {frames} frames of {FRAME}x{FRAME} float32, {size / GB:.2f} GB file, page cache warm")
    print(f"- load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    print(f"- start-up floor (ptyevidence --version, fastest of 3): {floor:.3f} s")
    print(f"- same output for every run: {'yes' if same else 'NO'}")
    print(
        "\n| command | fastest s | median s | GB/s end to end | GB/s net of start-up | peak RSS MB "
        "| other CPU load before fastest | runs s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for jobs, done in runs.items():
        best = min(done, key=lambda r: r.wall_s)
        median = statistics.median(r.wall_s for r in done)
        net = size / max(best.wall_s - floor, 1e-3) / GB
        print(
            f"| validate --jobs {jobs} | {best.wall_s:.3f} | {median:.3f} | {size / best.wall_s / GB:.2f} | "
            f"{net:.2f} | {max(r.rss_mb for r in done):.0f} | {best.busy_before:.0%} | "
            f"{', '.join(f'{r.wall_s:.2f}' for r in done)} |"
        )
    print("\n| pass over the diffraction member (in process) | threads | GB/s | cores busy | other CPU load after |")
    print("|---|---:|---:|---:|---:|")
    for name, threads, rate, cores, busy in rows:
        print(f"| {name} | {threads} | {rate:.2f} | {cores:.2f} | {busy:.0%} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
