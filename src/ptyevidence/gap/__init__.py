"""Pipeline gap matrices and empirical parity between pipelines.

Compare two pipeline contracts role by role with :func:`build_gap_matrix`;
check what the pipelines really produce with :func:`compare_dumps` on tensor
dumps written inside each pipeline by :func:`capture`.

Examples
--------
>>> from ptyevidence.gap import build_gap_matrix
>>> matrix = build_gap_matrix("ptychopinn-tf-grouped", "ptychopinn-torch-mmap")
>>> matrix.row("coords.relative").kinds
('axis-order', 'dtype')
"""

from .matrix import (
    DEFAULT_LEFT,
    DEFAULT_RIGHT,
    KINDS,
    GapMatrix,
    GapRow,
    axis_permutation,
    build_gap_matrix,
)
from .parity import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    BoundDump,
    ParityReport,
    RoleParity,
    bind_dump,
    capture,
    compare_dumps,
)
from .torch_check import (
    FixtureDataset,
    TorchCheckReport,
    TorchNotInstalledError,
    check_torch_loading,
    torch_available,
)

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_LEFT",
    "DEFAULT_RIGHT",
    "DEFAULT_RTOL",
    "KINDS",
    "BoundDump",
    "FixtureDataset",
    "GapMatrix",
    "GapRow",
    "ParityReport",
    "RoleParity",
    "TorchCheckReport",
    "TorchNotInstalledError",
    "axis_permutation",
    "bind_dump",
    "build_gap_matrix",
    "capture",
    "check_torch_loading",
    "compare_dumps",
    "torch_available",
]
