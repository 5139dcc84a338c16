"""``--config KEY=VALUE`` settings of an observe run, routed to the pipeline they configure.

Keys name what PtychoPINN calls them:

- ``N`` and ``seed`` go to both pipelines (TF ``generate_grouped_data``
  arguments, Torch ``DataConfig.N`` and the numpy seed set before grouping);
- ``nsamples``, ``sequential_sampling``, ``enable_oversampling`` and
  ``neighbor_pool_size`` (or any ``tf.NAME``) are ``generate_grouped_data``
  arguments;
- ``DataConfig.NAME`` and ``ModelConfig.NAME`` are Torch config fields; any
  other plain name is looked up in those two inside the PtychoPINN
  environment (``K`` exists on both sides, so it must be qualified).

Values are JSON (``64``, ``true``, ``[0.1, 0.9]``, ``"text"``); anything
that is not JSON is taken as a string (``mode=Supervised``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...exceptions import UsageError

__all__ = ["DEFAULTS", "parse_config", "runner_config"]

#: The run the observe command makes when nothing is configured (the issue's run).
DEFAULTS = {"N": 64, "K": 4, "nsamples": 48, "seed": 0}
_SHARED = ("N", "seed")
_TF_ONLY = ("nsamples", "sequential_sampling", "enable_oversampling", "neighbor_pool_size")
_TORCH_CLASSES = ("DataConfig", "ModelConfig")
_AMBIGUOUS = {"K": "tf.K (generate_grouped_data, default 4) or DataConfig.K (Torch, default 6)"}
_PYTHON_WORDS = {"True": True, "False": False, "None": None}


def parse_config(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Route ``KEY=VALUE`` items to ``shared``, ``tf``, ``torch``, ``DataConfig``, ``ModelConfig``.

    Parameters
    ----------
    items : iterable of str
        The ``--config`` values.

    Returns
    -------
    dict
        Section -> {name: value}; ``torch`` holds plain names resolved in the
        PtychoPINN environment.

    Raises
    ------
    UsageError
        For an item without ``=``, an empty or ambiguous key, a key given
        twice, or an unknown prefix.

    Examples
    --------
    >>> parse_config(["nsamples=512", "ModelConfig.physics_forward_mode=rectangular_scaled",
    ...               "x_bounds=[0.2, 0.8]"])["ModelConfig"]
    {'physics_forward_mode': 'rectangular_scaled'}
    """
    sections: dict[str, dict[str, Any]] = {name: {} for name in ("shared", "tf", "torch", *_TORCH_CLASSES)}
    seen: set[str] = set()
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            msg = f"--config '{item}' is not KEY=VALUE (e.g. nsamples=512 or ModelConfig.mode=Supervised)"
            raise UsageError(msg)
        if key in seen:
            msg = f"--config key '{key}' is given twice"
            raise UsageError(msg)
        seen.add(key)
        section, name = _route(key)
        sections[section][name] = _value(text.strip())
    return sections


def _route(key: str) -> tuple[str, str]:
    prefix, dot, name = key.rpartition(".")
    if dot:
        if prefix in ("tf", *_TORCH_CLASSES) and name:
            return prefix, name
        msg = (
            f"--config key '{key}' has an unknown prefix '{prefix}'; use tf., DataConfig. "
            "or ModelConfig. (or a plain name)"
        )
        raise UsageError(msg)
    if key in _AMBIGUOUS:
        msg = f"--config key '{key}' is ambiguous; write {_AMBIGUOUS[key]}"
        raise UsageError(msg)
    if key == "gridsize":
        msg = "--config gridsize: use --gridsize (e.g. --gridsize 1,2)"
        raise UsageError(msg)
    if key in _SHARED:
        return "shared", key
    if key in _TF_ONLY:
        return "tf", key
    return "torch", key


def _value(text: str) -> Any:
    if text in _PYTHON_WORDS:
        return _PYTHON_WORDS[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def runner_config(sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return what the runner passes to each pipeline, defaults filled in.

    Parameters
    ----------
    sections : dict
        From :func:`parse_config`.

    Returns
    -------
    dict
        ``tf`` (the ``generate_grouped_data`` keyword arguments), ``DataConfig``,
        ``ModelConfig``, ``torch`` (plain names to resolve) and ``seed`` (the
        numpy seed set before the Torch grouping draws).

    Raises
    ------
    UsageError
        If ``N`` is given both plainly and as ``DataConfig.N``.

    Examples
    --------
    >>> runner_config(parse_config(["N=128"]))["DataConfig"]
    {'N': 128}
    """
    shared = sections.get("shared", {})
    tf = {**DEFAULTS, **shared, **sections.get("tf", {})}
    data = dict(sections.get("DataConfig", {}))
    if "N" in shared:
        if "N" in data:
            msg = "--config N and DataConfig.N are both given; give one of them"
            raise UsageError(msg)
        data["N"] = shared["N"]
    else:
        data.setdefault("N", DEFAULTS["N"])
    return {
        "tf": tf,
        "DataConfig": data,
        "ModelConfig": dict(sections.get("ModelConfig", {})),
        "torch": dict(sections.get("torch", {})),
        "seed": tf["seed"],
    }
