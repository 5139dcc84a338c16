"""Time ``ptyevidence diff`` on two large NPZ sources that differ in one frame.

Usage::

    python benchmarks/diff_pair.py [--size-gb 2] [--workdir DIR] [--repeat 2] [--keep]

Writes A and B (each about ``--size-gb`` GB of float32 64x64 frames, streamed,
as ``benchmarks/_inputs.py`` writes sources) into DIR; B equals A except frame
N/2, which has 1e-3 added to every pixel. Then runs ``python -m ptyevidence
diff A B --json`` as a child process ``--repeat`` times and prints, for each
run, wall time, the child's peak RSS (``wait4``) and the rate over both files,
beside the time ``cat A B > /dev/null`` takes (the read floor), and checks the
diff found exactly that frame. The files are deleted afterwards unless
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import _inputs  # beside this script, so on sys.path when it runs
import numpy as np

FRAME = 64
FRAME_BYTES = FRAME * FRAME * 4


def write_pair(path_a: str, path_b: str, n: int, changed: int, seed: int = 0) -> None:
    """Stream sources A and B of ``n`` frames; B's frame ``changed`` is off by 1e-3."""
    pool = _inputs._frame_pool(FRAME, FRAME, np.dtype(np.float32), seed)
    x, y = _inputs.scan_positions(n, seed)
    rng = np.random.default_rng(seed + 2)
    probe = np.exp(1j * rng.uniform(0, 1, (FRAME, FRAME))).astype(np.complex64)
    with (
        zipfile.ZipFile(path_a, "w", zipfile.ZIP_STORED, allowZip64=True) as za,
        zipfile.ZipFile(path_b, "w", zipfile.ZIP_STORED, allowZip64=True) as zb,
    ):
        shape = (n, FRAME, FRAME)
        with (
            _inputs._open_member(za, "diffraction", pool.dtype, shape) as ma,
            _inputs._open_member(zb, "diffraction", pool.dtype, shape) as mb,
        ):
            for start in range(0, n, _inputs.FRAMES_PER_BLOCK):
                stop = min(n, start + _inputs.FRAMES_PER_BLOCK)
                block = pool[np.arange(start, stop) % pool.shape[0]]
                block[:, 0, 0] = np.arange(start, stop) * _inputs.STAMP_SCALE
                ma.write(block.tobytes())
                if start <= changed < stop:
                    block[changed - start] += np.float32(1e-3)
                mb.write(block.tobytes())
        for zf in (za, zb):
            _inputs._write_small(zf, "probeGuess", probe)
            _inputs._write_small(zf, "xcoords", x)
            _inputs._write_small(zf, "ycoords", y)
            _inputs._write_small(zf, "scan_index", np.arange(n, dtype=np.int64))


def run_child(argv: list[str]) -> tuple[float, int, str]:
    """Run ``argv``; return wall seconds, the child's own peak RSS in bytes and its output."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read()
        # wait4 gives this child's rusage alone (RUSAGE_CHILDREN is a maximum over all of them).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode not in (0, 1):
            err.seek(0)
            msg = f"{argv} exited {proc.returncode}: {err.read().decode()}"
            raise SystemExit(msg)
    return wall, usage.ru_maxrss * 1024, out.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of each file (default 2)")
    parser.add_argument("--workdir", default=None, help="folder for the pair (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the two files")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="diff-pair-", dir=args.workdir)
    a, b = os.path.join(folder, "a.npz"), os.path.join(folder, "b.npz")
    n = int(args.size_gb * 1e9 // FRAME_BYTES)
    changed = n // 2
    try:
        start = time.perf_counter()
        write_pair(a, b, n, changed)
        sizes = os.path.getsize(a), os.path.getsize(b)
        print(
            f"wrote A and B: {n} frames of {FRAME}x{FRAME} float32, {sizes[0] / 1e9:.2f} GB and "
            f"{sizes[1] / 1e9:.2f} GB, in {time.perf_counter() - start:.1f} s (frame {changed} differs)"
        )
        cat = ["cat", a, b]
        t0 = time.perf_counter()
        subprocess.run(cat, stdout=subprocess.DEVNULL, check=True)
        print(f"cat A B > /dev/null: {time.perf_counter() - t0:.2f} s")
        total = (sizes[0] + sizes[1]) / 1e9
        for i in range(args.repeat):
            wall, rss, out = run_child([sys.executable, "-m", "ptyevidence", "diff", a, b, "--json"])
            report = json.loads(out)
            frames = next(k for k in report["keys"] if k["key"] == "diffraction")["values"]
            print(
                f"run {i + 1}: diff {wall:.2f} s ({total / wall:.2f} GB/s over both files), "
                f"peak RSS {rss / 2**20:.0f} MiB; found {frames['differing_rows']} differing "
                f"row(s), first {frames['first_differing_row']}, max abs {frames['max_abs']:.3g}"
            )
            if (frames["differing_rows"], frames["first_differing_row"]) != (1, changed):
                msg = "the diff did not find exactly the changed frame"
                raise SystemExit(msg)
    finally:
        if not args.keep:
            for path in (a, b):
                if os.path.exists(path):
                    os.unlink(path)
            os.rmdir(folder)


if __name__ == "__main__":
    main()
