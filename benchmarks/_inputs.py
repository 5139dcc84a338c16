"""Write large synthetic DATA-001 NPZ sources without holding them in memory.

Each member is written through ``zipfile`` as numpy.savez does (zip64 local
header, ``.npy`` header, then data), but the data are produced block by block,
so the generator's memory stays at a few MiB whatever the file size.

Frames are amplitudes (square roots of Poisson counts of a ring-shaped
pattern), drawn once into a small pool and cycled; frame ``i`` carries its
index in pixel ``[0, 0]`` (``i * 1e-6``) so a gathered frame can be traced
back to its source row. Values stay below 10 and include zeros, so the file
satisfies DATA-001 and every statistic has work to do.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

#: Frames in the pool that is cycled through the stack.
POOL_FRAMES = 97
#: Frames written per block for canonical stacks (about 16 MiB at 64x64 float32).
FRAMES_PER_BLOCK = 1024
#: Value stamped into pixel [0, 0] of frame i is ``i * STAMP_SCALE``.
STAMP_SCALE = 1e-6


def _frame_pool(h: int, w: int, dtype: np.dtype, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2) / (min(h, w) / 2)
    expected = 40.0 * np.exp(-((r - 0.3) ** 2) / 0.02) + 0.2
    counts = rng.poisson(expected, size=(POOL_FRAMES, h, w))
    return (np.sqrt(counts) / 2.0).astype(dtype)


def scan_positions(n: int, seed: int = 0, step: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A Fermat-spiral scan of ``n`` positions about ``step`` pixels apart, lightly jittered.

    Spiral scans are common in ptychography; unlike a raster, evenly spaced
    acquisition indices do not line up in one column of it.
    """
    rng = np.random.default_rng(seed + 1)
    i = np.arange(n)
    radius = step / np.sqrt(np.pi) * np.sqrt(i + 0.5)
    angle = i * np.pi * (3.0 - np.sqrt(5.0))
    margin = float(radius[-1]) + 40.0
    x = margin + radius * np.cos(angle) + rng.uniform(-0.1, 0.1, n) * step
    y = margin + radius * np.sin(angle) + rng.uniform(-0.1, 0.1, n) * step
    return x, y


def _open_member(zf: zipfile.ZipFile, key: str, dtype: np.dtype, shape: tuple[int, ...]):
    member = zf.open(f"{key}.npy", "w", force_zip64=True)
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": tuple(shape),
    }
    np.lib.format.write_array_header_2_0(member, header)
    return member


def _write_small(zf: zipfile.ZipFile, key: str, arr: np.ndarray) -> None:
    with _open_member(zf, key, arr.dtype, arr.shape) as member:
        member.write(np.ascontiguousarray(arr).tobytes())


def _write_canonical(member, pool: np.ndarray, n: int) -> None:
    p = pool.shape[0]
    for start in range(0, n, FRAMES_PER_BLOCK):
        stop = min(n, start + FRAMES_PER_BLOCK)
        block = pool[np.arange(start, stop) % p]
        block[:, 0, 0] = np.arange(start, stop) * STAMP_SCALE
        member.write(block.tobytes())


def _write_legacy(member, pool: np.ndarray, n: int) -> None:
    # C-order (H, W, N): one row per pixel, holding that pixel across every frame.
    p, h, w = pool.shape
    cycle = np.arange(n) % p
    for yy in range(h):
        for xx in range(w):
            row = pool[cycle, yy, xx]
            if yy == 0 and xx == 0:
                row = (np.arange(n) * STAMP_SCALE).astype(pool.dtype)
            member.write(row.tobytes())


def write_source(
    path: str,
    n: int,
    frame: int = 64,
    dtype: str = "float32",
    layout: str = "canonical",
    compressed: bool = False,
    seed: int = 0,
) -> int:
    """Stream a DATA-001 source with ``n`` frames of ``frame x frame`` to ``path``.

    Returns the file size in bytes.
    """
    pool = _frame_pool(frame, frame, np.dtype(dtype), seed)
    x, y = scan_positions(n, seed)
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    shape = (n, frame, frame) if layout == "canonical" else (frame, frame, n)
    rng = np.random.default_rng(seed + 2)
    obj_side = min(int(max(x.max(), y.max()) + frame + 40), 4096)
    with zipfile.ZipFile(path, "w", method, allowZip64=True, compresslevel=1) as zf:
        with _open_member(zf, "diffraction", np.dtype(dtype), shape) as member:
            if layout == "canonical":
                _write_canonical(member, pool, n)
            else:
                _write_legacy(member, pool, n)
        probe = np.exp(1j * rng.uniform(0, 1, (frame, frame))).astype(np.complex64)
        _write_small(zf, "probeGuess", probe)
        obj = np.exp(1j * rng.uniform(0, 1, (obj_side, obj_side))).astype(np.complex64)
        _write_small(zf, "objectGuess", obj)
        _write_small(zf, "xcoords", x)
        _write_small(zf, "ycoords", y)
        _write_small(zf, "xcoords_start", np.round(x))
        _write_small(zf, "ycoords_start", np.round(y))
        _write_small(zf, "scan_index", np.zeros(n, np.int64))
    return os.path.getsize(path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write one synthetic source")
    parser.add_argument("path")
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--frame", type=int, default=64)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--layout", default="canonical", choices=["canonical", "legacy"])
    parser.add_argument("--compressed", action="store_true")
    args = parser.parse_args()
    size = write_source(args.path, args.frames, args.frame, args.dtype, args.layout, args.compressed)
    print(size)
