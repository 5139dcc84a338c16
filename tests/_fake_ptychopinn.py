"""A stand-in PtychoPINN checkout for running ``observe`` end to end without the real one.

``make_fake(folder)`` writes packages ``ptycho``, ``ptycho_torch``,
``tensorflow`` and ``torch`` with just the API the observe runner calls;
their values come from ``_observe_runs`` (copied in beside them), so a run
through them matches the contracts. ``behaviour`` makes the Torch path raise,
hang, or crash instead.
"""

from __future__ import annotations

import os
import shutil
import textwrap

_HERE = os.path.dirname(os.path.abspath(__file__))

_CONFIG = """
from dataclasses import dataclass

@dataclass
class DataConfig:
    N: int = 64
    C: int = 4
    K: int = 6
    n_subsample: int = 7
    grid_size: tuple = (2, 2)
    neighbor_function: str = "Nearest"
    normalize: str = "Batch"
    data_scaling: str = "Parseval"
    probe_scale: float = 4.0
    probe_normalize: bool = True
    x_bounds: tuple = (0.1, 0.9)
    y_bounds: tuple = (0.1, 0.9)
    scale_contract_version: str = "ci_intensity_v2"

@dataclass
class ModelConfig:
    mode: str = "Unsupervised"
    object_big: bool = True
    probe_mask: bool = False
    physics_forward_mode: str = "amplitude"
"""

_DATALOADER = """
import numpy as np
from _observe_runs import _torch_batch

{prelude}

def _get_diffraction_stack(path):
    with np.load(path) as f:
        return f["diffraction"].astype(np.float32)

class _Dict(dict):
    pass

class PtychoDataset:
    def __init__(self, folder, model_config, data_config, data_dir=None, remake_map=False):
        {init}
        import glob, os
        path = sorted(glob.glob(os.path.join(folder, "*.npz")))[0]
        with np.load(path) as f:
            fixture = {{k: f[k] for k in f.files}}
        c = data_config.grid_size[0] * data_config.grid_size[1]
        self.ci_contract_active = model_config.physics_forward_mode == "rectangular_scaled"
        self.batch = _torch_batch(fixture, c, self.ci_contract_active, np.random.default_rng(1),
                                  fixture["diffraction"].shape[-1])
        if getattr(self, "fault", False):
            self.batch["label_amp"] = self.batch["label_amp"] + 1  # contradicts labels-zero
        self.data_dict = {{"objectGuess": [self.batch.pop("objectGuess")]}}
        self.batch.pop("diffraction")

    def __len__(self):
        return len(self.batch["nn_indices"])

    def __getitem__(self, index):
        from torch import Tensor
        batch = {{k: Tensor(v[index]) for k, v in self.batch.items()}}
        probe, scaling = batch.pop("probe"), batch.pop("probe_scaling")
        return _Dict(batch), probe, scaling
"""

_RAW_DATA = """
import numpy as np
from _observe_runs import _tf_grouped

class RawData:
    @staticmethod
    def from_file(path):
        raw = RawData()
        with np.load(path) as f:
            raw.fixture = {k: f[k] for k in f.files}
        raw.probeGuess = raw.fixture["probeGuess"]
        raw.diff3d = raw.fixture["diff3d"]
        raw.scan_index = raw.fixture["scan_index"]
        return raw

    def generate_grouped_data(self, N, K=4, nsamples=1, dataset_path=None, seed=None,
                              sequential_sampling=False, gridsize=None, enable_oversampling=False,
                              neighbor_pool_size=None):
        rng = np.random.default_rng(seed)
        m = len(self.fixture["xcoords"])
        c = gridsize * gridsize
        count = min(nsamples, m)
        seeds = rng.choice(m, count, replace=False)
        nn = seeds[:, None].astype(np.int64) if c == 1 else np.stack(
            [rng.choice(m, c, replace=False) for _ in seeds]).astype(np.int32)
        return self._generate_dataset_from_groups(nn, N, K, gridsize)

    def _generate_dataset_from_groups(self, groups, N, K, gridsize):
        from tensorflow import EagerTensor
        grouped = _tf_grouped(self.fixture, groups, self.diff3d.shape[-1])
        grouped["Y"] = EagerTensor(grouped["Y"])  # cut from objectGuess: a TF tensor
        return grouped
"""

_TENSOR = """
import numpy as np

__version__ = "0.0-fake"


class {name}:
    def __init__(self, value):
        self._value = np.asarray(value)

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._value
"""

_LOADER = """
import numpy as np
from _observe_runs import _tf_container

class PtychoDataContainer:
    pass

def load(cb, probeGuess, which, create_split):
    from tensorflow import EagerTensor
    grouped = {k: v.numpy() if hasattr(v, "numpy") else v for k, v in cb().items()}
    container = PtychoDataContainer()
    for key, value in _tf_container(grouped).items():
        numpy_kept = key in ("global_offsets", "local_offsets", "nn_indices")
        setattr(container, key, value if numpy_kept else EagerTensor(value))
    return container
"""


def make_fake(folder, behaviour: str = "ok") -> str:
    """Write the stand-in checkout into ``folder``; return its path.

    ``behaviour``: ``ok``; ``drift`` (non-zero labels); ``raise`` (PtychoDataset raises ValueError);
    ``hang`` (importing the Torch loader sleeps for a minute, after writing
    its process id to ``pid.txt``); ``crash`` (the Torch loader kills its
    own process).
    """
    folder = os.fspath(folder)
    prelude, init = "", "pass"
    if behaviour == "raise":
        init = 'raise ValueError("fixture has no key label")'
    elif behaviour == "hang":
        prelude = (
            "import os, time\nopen(os.path.join(os.path.dirname(__file__), '..', 'pid.txt'), 'w')"
            ".write(str(os.getpid()))\ntime.sleep(60)"
        )
    elif behaviour == "drift":
        init = "self.fault = True"
    elif behaviour == "crash":
        prelude = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    files = {
        "ptycho/__init__.py": "",
        "ptycho/params.py": "cfg = {'probe_scale': 10.0, 'gridsize': 1, 'N': 64}\n",
        "ptycho/raw_data.py": _RAW_DATA,
        "ptycho/loader.py": _LOADER,
        "ptycho/config/__init__.py": "",
        "ptycho/config/config.py": (
            "from dataclasses import dataclass\n\n@dataclass\nclass ModelConfig:\n"
            "    N: int = 64\n    probe_scale: float = 4.0\n"
        ),
        "ptycho_torch/__init__.py": "",
        "ptycho_torch/config_params.py": _CONFIG,
        "ptycho_torch/dataloader.py": _DATALOADER.format(prelude=prelude, init=init),
        "tensorflow/__init__.py": _TENSOR.format(name="EagerTensor"),
        "torch/__init__.py": _TENSOR.format(name="Tensor"),
    }
    for rel, text in files.items():
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text))
    shutil.copyfile(os.path.join(_HERE, "_observe_runs.py"), os.path.join(folder, "_observe_runs.py"))
    return folder
