"""Where the peer is: PtychoPINN's interpreter and its source snapshot, for the tests under tests/peer.

``PTYEVIDENCE_PEER_PYTHON`` names the interpreter of an environment holding
PtychoPINN (TensorFlow and PyTorch); without it every peer test skips.
``PTYEVIDENCE_PEER_SNAPSHOT`` names the PtychoPINN source tree whose own tests
run against ptyevidence fixtures; without it the snapshot is looked for where
``.ci/run`` looks (``$(dirname repo)/../shared/peers/PtychoPINN``, then
``/work/shared/peers/PtychoPINN``) and where the peers README puts it
(``../shared`` from the repository).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

#: The peer's interpreter, or None; a relative path is taken from the working directory pytest started in.
PEER = os.path.abspath(os.environ["PTYEVIDENCE_PEER_PYTHON"]) if os.environ.get("PTYEVIDENCE_PEER_PYTHON") else None
_REPO = Path(__file__).resolve().parent.parent
_SNAPSHOTS = (
    _REPO.parent / ".." / "shared" / "peers" / "PtychoPINN",
    _REPO.parent / "shared" / "peers" / "PtychoPINN",  # ../shared from the repository, as its README says
    Path("/work/shared/peers/PtychoPINN"),
)
_LOADERS = Path(__file__).resolve().parent / "peer" / "loaders.py"


def require_peer() -> str:
    """Return the peer's interpreter, or skip the calling module."""
    if not PEER:
        pytest.skip(
            "PTYEVIDENCE_PEER_PYTHON is not set (an interpreter with PtychoPINN runs these)", allow_module_level=True
        )
    return PEER


def snapshot() -> Path | None:
    """Return the PtychoPINN snapshot, or None."""
    given = os.environ.get("PTYEVIDENCE_PEER_SNAPSHOT")
    for candidate in [Path(given)] if given else list(_SNAPSHOTS):
        if (candidate / "ptycho" / "raw_data.py").is_file():
            return candidate.resolve()
    return None


def writable_copy(source: Path, target: Path) -> Path:
    """Copy the snapshot (read-only where it is shared) to ``target``, writable by its owner."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for folder, _, files in os.walk(target):
        for name in (folder, *(os.path.join(folder, f) for f in files)):
            os.chmod(name, os.stat(name).st_mode | stat.S_IWUSR)
    return target


def peer_env(home: Path) -> dict[str, str]:
    """Environment of a peer process: no PYTHONPATH of ours, caches under ``home``, CPU only."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        MPLCONFIGDIR=str(home / "mpl"),
        KERAS_HOME=str(home / "keras"),
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        HOME=str(home),
    )
    return env


def run_loaders(jobs: list[dict], folder: Path) -> dict[str, dict]:
    """Run ``tests/peer/loaders.py`` on ``jobs`` in the peer, from ``folder``; return its results by id."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "home").mkdir(exist_ok=True)
    jobs_path, results_path = folder / "jobs.json", folder / "results.json"
    jobs_path.write_text(json.dumps(jobs), encoding="utf-8")
    done = subprocess.run(
        [require_peer(), str(_LOADERS), str(jobs_path), str(results_path)],
        cwd=folder,
        env=peer_env(folder / "home"),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results_path.read_text(encoding="utf-8"))


def ptyevidence_cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run this interpreter's ``python -m ptyevidence ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "ptyevidence", *args], capture_output=True, text=True, cwd=cwd, timeout=600, check=False
    )
