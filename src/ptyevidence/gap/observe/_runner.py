"""Run one PtychoPINN pipeline on a fixture and dump what it produced.

This file is executed as a script by the interpreter that has PtychoPINN
(``python _runner.py check|torch|tf ...``), never imported by ptyevidence
itself. It needs only the standard library, numpy, PtychoPINN and
:func:`ptyevidence.gap.capture` (the caller puts this ptyevidence first on
``sys.path`` with ``--path``). PtychoPINN's own printing goes to this
process's standard output, which the caller keeps as a log; the results go
to the ``--manifest`` JSON file:

- ``check``: which of numpy, ptycho, ptycho_torch, tensorflow, torch the
  interpreter cannot find (nothing is imported);
- ``torch``: ``ptycho_torch.dataloader.PtychoDataset`` over a folder holding
  only the fixture, one memory map per gridsize; the whole map is read as one
  batch ``dataset[0:len(dataset)]`` and dumped with its probe and probe
  scaling;
- ``tf``: ``RawData.from_file`` -> ``generate_grouped_data`` -> ``loader.load``
  per gridsize, plus the "aligned" grouped dict that TF's own group builder
  (``RawData._generate_dataset_from_groups``) makes from the Torch
  ``nn_indices``, so both pipelines can be compared on the same groups.

Errors inside PtychoPINN are written to the manifest as ``{"error": ...}``
(exit 1); configuration keys that do not exist as ``{"usage": ...}`` (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import inspect
import json
import math
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
#: Modules the two pipelines need, with the name a person would look for.
REQUIRED = (
    ("numpy", "numpy"),
    ("ptycho", "PtychoPINN (package ptycho)"),
    ("ptycho_torch", "PtychoPINN (package ptycho_torch)"),
    ("tensorflow", "TensorFlow"),
    ("torch", "PyTorch"),
)
#: Torch DataConfig fields fixed by the gridsize loop.
TORCH_FIXED = ("C", "grid_size")


class ConfigUsageError(Exception):
    """A --config key or value the pipeline does not have."""


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run one command, write the manifest."""
    parser = argparse.ArgumentParser(prog="ptyevidence-observe-runner")
    parser.add_argument("command", choices=("check", "torch", "tf"))
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--fixture")
    parser.add_argument("--out")
    parser.add_argument("--work")
    parser.add_argument("--gridsizes", default="1,2")
    parser.add_argument("--config", default="{}")
    parser.add_argument("--aligned-from", default=None)
    args = parser.parse_args(argv)
    # This folder holds ptyevidence modules; as sys.path[0] they would shadow
    # top-level modules of the same names inside PtychoPINN's dependencies.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
    for entry in reversed(args.path):
        sys.path.insert(0, entry)
    if args.command == "check":
        return _write(args.manifest, _check())
    gridsizes = [int(g) for g in args.gridsizes.split(",")]
    config = json.loads(args.config)
    try:
        if args.command == "torch":
            result = _run_torch(args.fixture, args.out, args.work, gridsizes, config)
        else:
            result = _run_tf(args.fixture, args.out, gridsizes, config, args.aligned_from)
    except ConfigUsageError as exc:
        _write(args.manifest, {"usage": str(exc)})
        return 2
    except Exception as exc:  # noqa: BLE001 - reported to the caller, which prints one line
        _write(args.manifest, {"error": _describe(exc)})
        return 1
    result["environment"] = _environment()
    return _write(args.manifest, result)


def _write(path: str, data: dict) -> int:
    # Standard JSON, which the caller's bounded reader accepts (_plain spells non-finite numbers
    # as text); made whole before the file is opened, so a failure leaves no half manifest.
    text = json.dumps(data, indent=2, default=_jsonable, allow_nan=False)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0


def _check() -> dict:
    missing = []
    for module, label in REQUIRED:
        try:
            spec = importlib.util.find_spec(module)
            # A folder without __init__.py (a namespace package) is not the library.
            found = spec is not None and spec.origin is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append({"module": module, "label": label})
    return {"missing": missing, "python": sys.executable, "version": ".".join(map(str, sys.version_info[:3]))}


def _describe(exc: BaseException) -> dict:
    """Exception type, first message line and the innermost PtychoPINN frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if "/ptycho" in f.filename.replace(os.sep, "/")]
    where = ""
    if inside:
        frame = inside[-1]
        where = f"{_relative(frame.filename)}:{frame.lineno}"
    message = str(exc).strip().splitlines()
    return {"type": type(exc).__name__, "message": message[0] if message else "", "where": where}


def _relative(filename: str) -> str:
    text = filename.replace(os.sep, "/")
    for marker in ("/ptycho_torch/", "/ptycho/"):
        i = text.rfind(marker)
        if i >= 0:
            return text[i + 1 :]
    return text


@contextlib.contextmanager
def _timer(record: dict, key: str):
    start = time.perf_counter()
    yield
    record[key] = round(time.perf_counter() - start, 3)


def _framework(value) -> str:
    """Name the framework of a value from its class hierarchy (no imports)."""
    for cls in type(value).__mro__:
        top = cls.__module__.split(".")[0]
        if top in ("torch", "tensorflow", "numpy"):
            return top
        if top == "tensordict" and cls.__name__ == "MemoryMappedTensor":
            return "torch"
    return "python"


def _jsonable(value):
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _plain(value.item())
    return repr(value)


def _plain(value):
    """Config values as JSON data (tuples as lists, non-finite numbers and anything else by repr)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


def _defaults(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = _plain(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            with contextlib.suppress(Exception):
                out[f.name] = _plain(f.default_factory())
    return out


def _values(instance) -> dict:
    return {f.name: _plain(getattr(instance, f.name)) for f in dataclasses.fields(instance)}


def _coerce(cls, name: str, value):
    """Give a --config value the container type of the dataclass default."""
    default = {f.name: f.default for f in dataclasses.fields(cls)}.get(name)
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    return value


def _environment() -> dict:
    import numpy

    env = {
        "python": sys.executable,
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "numpy": numpy.__version__,
    }
    for name in ("tensorflow", "torch", "tensordict"):
        module = sys.modules.get(name)
        if module is not None:
            env[name] = getattr(module, "__version__", "unknown")
    env["ptychopinn"] = _ptychopinn_origin()
    return env


def _ptychopinn_origin() -> dict:
    """Where ptycho was imported from and which commit or version it is."""
    import ptycho

    root = os.path.dirname(os.path.dirname(os.path.abspath(ptycho.__file__)))
    origin = {"root": root, "commit": None, "version": None}

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10, check=False)

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = git("rev-parse", "HEAD")
        if done.returncode == 0 and done.stdout.strip():
            origin["commit"] = done.stdout.strip()
            origin["modified"] = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
    with contextlib.suppress(Exception):
        from importlib import metadata

        names = metadata.packages_distributions().get("ptycho", [])
        if names:
            origin["distribution"] = names[0]
            origin["version"] = metadata.version(names[0])
    return origin


def _dump(mapping: dict, out: str, g: int, name: str, groups: int) -> dict:
    """Dump with ptyevidence's capture to ``g<g>/<name>.npz``; return the manifest entry of the dump."""
    from ptyevidence.gap import capture

    path = os.path.join(out, f"g{g}", f"{name}.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    kept = {k: v for k, v in mapping.items() if v is not None}
    capture(kept, path, force=True)
    frameworks = {k: _framework(v) for k, v in kept.items()}
    return {"dump": os.path.relpath(path, out), "groups": groups, "frameworks": frameworks}


# -- Torch ------------------------------------------------------------------------------
def _torch_configs(config: dict):
    from ptycho_torch.config_params import DataConfig, ModelConfig

    data, model = dict(config.get("DataConfig", {})), dict(config.get("ModelConfig", {}))
    data_fields = {f.name for f in dataclasses.fields(DataConfig)}
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    for key, value in config.get("torch", {}).items():
        homes = [name for name, fields in (("DataConfig", data_fields), ("ModelConfig", model_fields)) if key in fields]
        if not homes:
            msg = (
                f"--config key '{key}' is not a field of ptycho_torch DataConfig or ModelConfig; "
                "for a TF generate_grouped_data argument write tf.NAME="
            )
            raise ConfigUsageError(msg)
        if len(homes) > 1:
            msg = (
                f"--config key '{key}' is a field of both DataConfig and ModelConfig; "
                f"write DataConfig.{key}= or ModelConfig.{key}="
            )
            raise ConfigUsageError(msg)
        (data if homes[0] == "DataConfig" else model)[key] = value
    for cls, values, fields in ((DataConfig, data, data_fields), (ModelConfig, model, model_fields)):
        unknown = sorted(set(values) - fields)
        if unknown:
            msg = f"--config key {cls.__name__}.{unknown[0]} is not a field of ptycho_torch {cls.__name__}"
            raise ConfigUsageError(msg)
    fixed = sorted(set(data) & set(TORCH_FIXED))
    if fixed:
        msg = f"--config key DataConfig.{fixed[0]} is set from --gridsize (C = g*g, grid_size = (g, g))"
        raise ConfigUsageError(msg)
    data = {k: _coerce(DataConfig, k, v) for k, v in data.items()}
    model = {k: _coerce(ModelConfig, k, v) for k, v in model.items()}
    return DataConfig, ModelConfig, data, model


def _run_torch(fixture: str, out: str, work: str, gridsizes: list[int], config: dict) -> dict:
    import numpy as np

    timings: dict = {}
    with _timer(timings, "import"):
        from ptycho_torch import dataloader
        from ptycho_torch.dataloader import PtychoDataset
    DataConfig, ModelConfig, data_kw, model_kw = _torch_configs(config)
    seed = config.get("seed", 0)
    folder = os.path.join(work, "torch_input")
    os.makedirs(folder, exist_ok=True)
    link = os.path.join(folder, os.path.basename(fixture))
    try:
        os.symlink(os.path.abspath(fixture), link)
    except OSError:
        import shutil

        shutil.copyfile(fixture, link)
    runs = {}
    for g in gridsizes:
        record: dict = {}
        data_config = DataConfig(**{**data_kw, "C": g * g, "grid_size": (g, g)})
        model_config = ModelConfig(**model_kw)
        # patch_generator.sample_rows draws from numpy's global generator, so seed that one.
        np.random.seed(seed)  # noqa: NPY002
        with _timer(record, "seconds"):
            dataset = PtychoDataset(
                folder, model_config, data_config, data_dir=os.path.join(work, f"torch_g{g}", "memmap"), remake_map=True
            )
            tensor_dict, probe, probe_scaling = dataset[0 : len(dataset)]
        batch = dict(tensor_dict.items())
        batch.update(probe=probe, probe_scaling=probe_scaling)
        extra = {}
        objects = dataset.data_dict.get("objectGuess") or []
        if objects:
            extra["objectGuess"] = "data_dict['objectGuess'][0] of state_files.npz"
            batch["objectGuess"] = objects[0]
        # The canonical per-file stack the map was gathered from.
        batch["diffraction"] = dataloader._get_diffraction_stack(link)
        extra["diffraction"] = "ptycho_torch.dataloader._get_diffraction_stack(fixture)"
        record.update(
            **_dump(batch, out, g, "torch_mmap", len(dataset)),
            added=extra,
            config={"DataConfig": _values(data_config), "ModelConfig": _values(model_config), "numpy_seed": seed},
            ci_profile=bool(getattr(dataset, "ci_contract_active", False)),
        )
        runs[str(g)] = record
    return {
        "pipeline": "torch",
        "timings": timings,
        "runs": runs,
        "overrides": {"DataConfig": _plain(data_kw), "ModelConfig": _plain(model_kw)},
        "defaults": {"DataConfig": _defaults(DataConfig), "ModelConfig": _defaults(ModelConfig)},
    }


# -- TensorFlow -------------------------------------------------------------------------
def _tf_arguments(config: dict, generate) -> dict:
    """Return the generate_grouped_data keywords: signature defaults, then the configured ones."""
    arguments = dict(config.get("tf", {}))
    parameters = inspect.signature(generate).parameters
    unknown = sorted(set(arguments) - set(parameters) | ({"gridsize", "self"} & set(arguments)))
    if unknown:
        msg = (
            f"--config key tf.{unknown[0]} is not a settable argument of "
            f"RawData.generate_grouped_data ({', '.join(sorted(set(parameters) - {'self', 'gridsize'}))})"
        )
        raise ConfigUsageError(msg)
    defaults = {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty and name not in ("gridsize", "dataset_path")
    }
    return {**defaults, **arguments}


def _container_arrays(container) -> dict:
    """Every public array or tensor attribute of a PtychoDataContainer."""
    names = set(vars(container)) | {n for n, v in vars(type(container)).items() if isinstance(v, property)}
    out = {}
    for name in sorted(n for n in names if not n.startswith("_")):
        value = getattr(container, name)
        if value is not None and hasattr(value, "shape") and hasattr(value, "dtype"):
            out[name] = value
    return out


def _run_tf(fixture: str, out: str, gridsizes: list[int], config: dict, aligned_from) -> dict:
    import numpy as np

    timings: dict = {}
    with _timer(timings, "import"):
        from ptycho import loader, params
        from ptycho.raw_data import RawData
    arguments = _tf_arguments(config, RawData.generate_grouped_data)
    params_defaults = {
        k: _plain(v) for k, v in params.cfg.items() if isinstance(v, (bool, int, float, str, type(None)))
    }
    defaults = {"params_cfg": params_defaults}
    with contextlib.suppress(ImportError):
        from ptycho.config import config as tf_config

        for name in ("ModelConfig", "TrainingConfig"):
            cls = getattr(tf_config, name, None)
            if cls is not None and dataclasses.is_dataclass(cls):
                defaults[name] = _defaults(cls)
    with _timer(timings, "from_file"):
        raw = RawData.from_file(fixture)
    source = {"probeGuess": raw.probeGuess, "diff3d": raw.diff3d, "scan_index": raw.scan_index}
    runs = {}
    for g in gridsizes:
        record: dict = {}
        # generate_grouped_data takes gridsize explicitly; get_image_patches and the
        # loader read the legacy params.cfg (CONFIG-001), so both say the same.
        params.cfg["gridsize"] = g
        params.cfg["N"] = arguments["N"]
        call = {**arguments, "gridsize": g}
        with _timer(record, "seconds"):
            grouped = raw.generate_grouped_data(**call)
        record["grouped"] = _dump({**grouped, **source}, out, g, "tf_grouped", len(grouped["nn_indices"]))
        with _timer(record, "load_seconds"):
            container = loader.load(lambda grouped=grouped: grouped, raw.probeGuess, which=None, create_split=False)
        record["container"] = _dump(_container_arrays(container), out, g, "tf_container", len(container.nn_indices))
        if aligned_from:
            with np.load(os.path.join(aligned_from, f"g{g}", "torch_mmap.npz")) as torch_dump:
                groups = torch_dump["nn_indices"]
            with _timer(record, "aligned_seconds"):
                aligned = raw._generate_dataset_from_groups(groups, arguments["N"], arguments["K"], g)
            record["aligned"] = {
                **_dump({**aligned, **source}, out, g, "tf_aligned", len(groups)),
                "builder": "RawData._generate_dataset_from_groups(torch nn_indices, N, K, gridsize)",
            }
        record["config"] = {
            "generate_grouped_data": call,
            "params_cfg": {"gridsize": g, "N": arguments["N"]},
            "loader.load": {"which": None, "create_split": False},
        }
        runs[str(g)] = record
    return {"pipeline": "tf", "timings": timings, "runs": runs, "defaults": defaults}


if __name__ == "__main__":
    sys.exit(main())
