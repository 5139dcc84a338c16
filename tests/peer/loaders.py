"""Run PtychoPINN's own loaders on files, in the peer's interpreter; print what they did as JSON.

    PEER_PYTHON tests/peer/loaders.py JOBS.json RESULTS.json

Not a test module: the peer tests run it with the interpreter of an
environment holding PtychoPINN (``PTYEVIDENCE_PEER_PYTHON``), from a scratch
working directory (importing ``ptycho.raw_data`` makes ``./memoized_data``).
Each job names a file and a call:

- ``from_file``: ``ptycho.raw_data.RawData.from_file(path)``;
- ``group``: that, then ``generate_grouped_data(N, K=4, nsamples, seed=0, gridsize)``;
- ``dataset``: ``ptycho_torch.dataloader.PtychoDataset`` over the file's folder
  (``numpy.random.seed(0)`` first: its neighbour sampling draws from it);
- ``metadata``: ``ptycho.metadata.MetadataManager.load_with_metadata(path)``;
- ``save_metadata``: write ``path`` with ``MetadataManager.save_with_metadata``.

The result of a job is the exception it raised (type, first line of the
message with the path replaced by ``<npz>``), or a few values of what the
call returned.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import warnings

import numpy as np


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def _from_file(job):
    from ptycho.raw_data import RawData

    with _quiet():
        raw = RawData.from_file(job["path"])
    out = {"diff3d_shape": list(raw.diff3d.shape), "metadata": raw.metadata}
    with np.load(job["path"]) as stored:
        if stored["diff3d"].ndim == 3:
            out["first_frame_is_last_axis_slice"] = bool(np.array_equal(raw.diff3d[0], stored["diff3d"][..., 0]))
    return raw, out


def _group(job):
    raw, out = _from_file(job)
    with _quiet():
        grouped = raw.generate_grouped_data(
            job.get("N", 64), K=4, nsamples=job["nsamples"], seed=0, gridsize=job["gridsize"]
        )
    return {**out, "X_full_shape": list(grouped["X_full"].shape)}


def _dataset(job):
    from ptycho_torch.config_params import DataConfig, ModelConfig
    from ptycho_torch.dataloader import PtychoDataset

    np.random.seed(0)  # noqa: NPY002 - the loader draws its neighbours from the legacy global state
    scratch = tempfile.mkdtemp(prefix="mmap_", dir=os.getcwd())
    with _quiet():
        ds = PtychoDataset(
            os.path.dirname(job["path"]),
            ModelConfig(**job.get("model", {})),
            DataConfig(**job.get("data", {})),
            data_dir=os.path.join(scratch, "memmap"),
            remake_map=True,
        )
    nn = ds.mmap_ptycho["nn_indices"][:].numpy()
    return {"len": len(ds), "rows_with_minus1": int((nn < 0).any(axis=1).sum()), "max_index": int(nn.max())}


def _metadata(job):
    from ptycho.metadata import MetadataManager

    _, metadata = MetadataManager.load_with_metadata(job["path"])
    return {"metadata": metadata, "nphotons": MetadataManager.get_nphotons(metadata, default=-1.0)}


def _save_metadata(job):
    from ptycho.metadata import MetadataManager

    with np.load(job["source"]) as data:
        arrays = {k: data[k] for k in data.files}
    MetadataManager.save_with_metadata(job["path"], arrays, job["metadata"])
    return {"written": os.path.exists(job["path"])}


CALLS = {
    "from_file": lambda j: _from_file(j)[1],
    "group": _group,
    "dataset": _dataset,
    "metadata": _metadata,
    "save_metadata": _save_metadata,
}


def run(job):
    """Return what one job's call did."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = {"accepted": True, **CALLS[job["call"]](job)}
        except Exception as exc:  # noqa: BLE001 - what the loader raises is the observation
            text = str(exc).strip().replace(job["path"], "<npz>")
            result = {"accepted": False, "raises": type(exc).__name__, "message": text.splitlines()[0] if text else ""}
    result["warnings"] = sorted({str(w.message).splitlines()[0] for w in caught if "ptycho" in (w.filename or "")})
    return result


def main(jobs_path: str, results_path: str) -> int:
    with open(jobs_path, encoding="utf-8") as fh:
        jobs = json.load(fh)
    results = {job["id"]: run(job) for job in jobs}
    with open(results_path, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
