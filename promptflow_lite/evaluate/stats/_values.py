"""Shared plumbing: turning metric columns into float arrays, confidence levels into z, results into JSON."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist
from typing import Any

import numpy as np

from promptflow_lite.errors import UserError

#: Bootstrap and permutation matrices are built in chunks of about this many cells (~16 MB of float64).
CHUNK_CELLS = 2_000_000


def as_values(values: Any, what: str = "values") -> np.ndarray:
    """Return ``values`` as a 1-D float array; ``None``, NaN and ±inf become NaN (= missing).

    Accepts lists, tuples, numpy arrays and pandas Series of numbers or booleans. ``what`` names the
    column in error messages. Raises :class:`UserError` naming the first line that is not a number.
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        _raise_first_bad(values, what)
    if array.ndim != 1:
        raise UserError(
            f"{what} must be a flat list with one value per line, got an array of shape {array.shape}.",
            hint="pass one score per dataset line",
        )
    array = array.copy()
    array[~np.isfinite(array)] = np.nan
    return array


def _raise_first_bad(values: Any, what: str) -> None:
    for line, value in enumerate(values):
        if value is None:
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            raise UserError(
                f"{what}: line {line} is {value!r}, which is not a number.",
                hint="make the evaluator return a number or a boolean (or None for 'no score')",
                line=line,
            ) from None
    raise UserError(f"{what} must be a flat list of numbers or booleans.", hint="pass one score per dataset line")


def check_confidence(confidence: float) -> float:
    """Return the two-sided normal quantile ``z`` for ``confidence`` (e.g. 0.95 → 1.96)."""
    if not 0.0 < confidence < 1.0:
        raise UserError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}.", hint="use e.g. 0.95")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def check_resamples(n_resamples: int) -> int:
    if int(n_resamples) != n_resamples or n_resamples < 100:
        raise UserError(
            f"n_resamples must be a whole number of at least 100, got {n_resamples!r}.", hint="use e.g. 2000"
        )
    return int(n_resamples)


def chunks(total: int, row_cells: int):
    """Yield row counts that add up to ``total`` so that each chunk holds about CHUNK_CELLS cells."""
    step = max(1, CHUNK_CELLS // max(1, row_cells))
    for start in range(0, total, step):
        yield min(step, total - start)


def to_dict(result: Any) -> dict[str, Any]:
    """A JSON-ready dict of a result dataclass: NaN → None, tuples → lists, nested results → dicts."""
    return {field.name: _plain(getattr(result, field.name)) for field in dataclasses.fields(result)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return to_dict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
