"""Every exception ptyevidence defines lives in ptyevidence.exceptions."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ptyevidence
from ptyevidence import exceptions


def _modules():
    for info in pkgutil.walk_packages(ptyevidence.__path__, f"{ptyevidence.__name__}."):
        try:
            yield importlib.import_module(info.name)
        except ImportError as exc:  # an optional dependency (PyTorch) is missing
            pytest.skip(f"{info.name}: {exc}")


def test_no_module_defines_an_exception_of_its_own():
    strays = [
        f"{module.__name__}.{name}"
        for module in _modules()
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
        and module is not exceptions
        # The observe runner is a script run in PtychoPINN's interpreter, never imported by the package.
        and not module.__name__.endswith(".observe._runner")
    ]
    assert strays == []


def test_moved_exceptions_stay_importable_where_they_were():
    from ptyevidence.gap import TorchNotInstalledError as from_gap
    from ptyevidence.report import NotebookExecutionError as from_report

    assert from_gap is exceptions.TorchNotInstalledError is ptyevidence.TorchNotInstalledError
    assert from_report is exceptions.NotebookExecutionError is ptyevidence.NotebookExecutionError
    assert issubclass(from_gap, ImportError)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (exceptions.InputError, 2),
        (exceptions.UsageError, 2),
        (exceptions.MemoryBudgetError, 2),
        (exceptions.ContractError, 1),
        (exceptions.NotebookExecutionError, 2),
        (exceptions.TorchNotInstalledError, 2),
        (exceptions.MissingExtraError, 2),
        (exceptions.OutputError, 2),
    ],
)
def test_exit_codes(cls, code):
    assert issubclass(cls, exceptions.PtyEvidenceError)
    assert cls.exit_code == code
    assert cls.__name__ in exceptions.__all__
