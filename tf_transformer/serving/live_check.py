"""Does an export answer as the model it came from?

The conformance check (`conformance.check_export`) proves that the served graph (the C API
loader) answers exactly as the written export reloaded in Python. This module compares
that reload with the live model the export was made from, where the comparison means
something under the model's precision: the same graph traced twice can round differently
(other kernels, other fusions, bfloat16 on one CPU and not another), so

- probabilities must agree within `TOLERANCES[compute dtype]` (absolute);
- a choice (a label, a ranked token, a greedy token) must be the same, except where the
  live model's own two likeliest candidates there are within that tolerance of each
  other: a near-tie, which either side may break;
- sampled text is not compared here (one near-tie among sampled tokens changes all that
  follows); the conformance check compares it between the served graph and the reload.

A real defect (a wrong op, a lost table, a changed tokenizer) moves probabilities by far
more than the tolerance, or changes choices that are not near-ties.
"""

import dataclasses

import numpy as np

from tf_transformer.serving.conformance import ConformanceError

# Absolute tolerance on probabilities, by the model's compute dtype. float32: the
# export and the live model differ in the order of sums at most. bfloat16 keeps 8 bits of
# mantissa (a relative step of 2^-8 = 0.4%), and a probability comes out of a few
# layers of such rounding when the two graphs' kernels differ (AMX against AVX-512, a
# fused against an unfused op). On the CPUs measured here they agreed exactly; 0.02 is
# room for such kernels, far below what a defect moves (`tests/serving/test_live_check.py`).
TOLERANCES = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 2e-2}


class LiveMismatch(ConformanceError):
    """The export's answers are not the live model's, beyond rounding."""


@dataclasses.dataclass
class Live:
    """The live model's answer to one request of the check.

    `values`: `{output: array}`; `probabilities`: the outputs compared within the
    tolerance; `ranked`: `{output: probability output}` for top-k outputs (a token may
    differ at a rank whose live probability is within the tolerance of a neighbour's, or at
    the last rank); `margin(row, output, served_value)`: for any other output, the live
    model's gap between its two likeliest choices where the served value first differs (a
    row may differ only where it is within the tolerance). Outputs without either must be
    equal.
    """

    values: dict
    probabilities: tuple = ()
    ranked: dict = dataclasses.field(default_factory=dict)
    margin: object = None


def tolerance_of(model) -> tuple:
    """`(compute dtype, tolerance)` of a Keras model."""
    dtype = model.dtype_policy.compute_dtype
    return dtype, TOLERANCES.get(dtype, TOLERANCES["float32"])


def top_two_gap(probabilities) -> np.ndarray:
    """The gap between the two largest values along the last axis."""
    top = -np.sort(-np.asarray(probabilities, np.float64), axis=-1)
    return top[..., 0] - top[..., 1]


def first_difference(prefixes, served: bytes):
    """The index of the first of `prefixes` (the live answer's first 1, 2, ... tokens as
    text) that the served text does not start with, or None if it starts with them all."""
    for index, prefix in enumerate(prefixes):
        if not served.startswith(prefix):
            return index
    return None


def _ranked_rows(served, live, probabilities, tolerance):
    """Rows of top-k outputs `[rows, k]` where the tokens differ other than at near-ties."""
    bad = []
    for row, (got, want, p) in enumerate(zip(served, live, probabilities, strict=True)):
        for rank in np.flatnonzero(got != want):
            neighbours = [abs(p[rank] - p[r]) for r in (rank - 1, rank + 1) if 0 <= r < len(p)]
            last = rank == len(p) - 1
            if not last and min(neighbours, default=np.inf) > tolerance:
                bad.append(row)
                break
    return bad


def compare(name, served: dict, live: Live, tolerance: float) -> dict:
    """Compares one request's reloaded outputs with the live model's; raises
    `LiveMismatch` naming the output. Returns `{"max_difference": largest probability
    difference, "near_ties": rows that differ at a near-tie}`."""
    largest, ties = 0.0, 0
    for key, want in live.values.items():
        got, want = np.asarray(served[key]), np.asarray(want)
        if got.shape != want.shape:
            raise LiveMismatch(f"{name}/{key}: shape {got.shape} != the live model's {want.shape}")
        if key in live.probabilities:
            difference = float(np.max(np.abs(got - want), initial=0.0))
            largest = max(largest, difference)
            if difference > tolerance:
                raise LiveMismatch(
                    f"{name}/{key}: differs from the live model by {difference:.2g} "
                    f"(tolerance {tolerance:g})"
                )
            continue
        if key in live.ranked:
            p = np.asarray(live.values[live.ranked[key]])
            flat = (-1, got.shape[-1])
            bad = _ranked_rows(got.reshape(flat), want.reshape(flat), p.reshape(flat), tolerance)
            if bad:
                raise LiveMismatch(f"{name}/{key}: the ranked tokens differ (row {bad[0]})")
            continue
        for row in range(len(got)):
            if np.array_equal(got[row], want[row]):
                continue
            gap = live.margin(row, key, got[row]) if live.margin else None
            if gap is None or gap > tolerance:
                shown = (
                    "" if gap is None else f", where the live model's top two are {gap:.2g} apart"
                )
                raise LiveMismatch(
                    f"{name}/{key}[{row}]: export {got[row]!r} != live model {want[row]!r}{shown}"
                )
            ties += 1
    return {"max_difference": largest, "near_ties": ties}


def compare_all(requests, served, lives, model) -> list:
    """Compares every request that has a `Live` answer (`lives`, aligned with `requests`
    and `served`); returns the lines that say what was compared."""
    dtype, tolerance = tolerance_of(model)
    lines = []
    for (name, inputs), got, live in zip(requests, served, lives, strict=True):
        if live is None:
            continue
        result = compare(name, got, live, tolerance)
        rows = len(next(iter(inputs.values())))
        ties = result["near_ties"]
        tie = f"; {ties} near-tie{'s' * (ties > 1)} broken the other way" if ties else ""
        measured = ""
        if live.probabilities:
            measured = f"probabilities within {result['max_difference']:.1e}, "
        lines.append(
            f"{name} on {rows} inputs ({', '.join(live.values)}) answers as the run's model: "
            f"{measured}tolerance {tolerance:g} for {dtype}{tie}"
        )
    return lines
