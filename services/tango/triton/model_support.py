"""Helpers shared by the Triton Python models of model_repository/ and the client that reads their errors.

Domain errors cross the Triton boundary as `pb_utils.TritonError` messages prefixed with
`[<canonical code>:<REASON>] `; `decode_error` turns such a message back into the matching exception of
`tango.runtime.errors`. Nothing here imports triton_python_backend_utils: the models pass it in.
"""
from __future__ import annotations

import re

import numpy as np

from tango.runtime import errors
from tango.runtime.errors import InvalidArgument, TangoError

_PREFIX = re.compile(r"\[(?P<code>[A-Z_]+):(?P<reason>[A-Z0-9_]+)\] (?P<message>.*)", re.DOTALL)
# Triton's own error codes (python backend TritonError) for the canonical codes we use
_TRITON_CODES = {"INVALID_ARGUMENT": "INVALID_ARG", "NOT_FOUND": "NOT_FOUND", "UNAVAILABLE": "UNAVAILABLE",
                 "ALREADY_EXISTS": "ALREADY_EXISTS", "CANCELLED": "CANCELLED"}
_CHECKPOINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def encode_error(error: TangoError) -> str:
    return f"[{error.code}:{error.reason}] {error.message}"


def triton_error(pb_utils, error: TangoError):
    """A pb_utils.TritonError carrying the domain error (with Triton's matching status code if supported)."""
    code = getattr(pb_utils.TritonError, _TRITON_CODES.get(error.code, "INTERNAL"), None)
    message = encode_error(error)
    return pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)


def _all_error_classes() -> list[type[TangoError]]:
    found, pending = [], [TangoError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def decode_error(message: str) -> TangoError | None:
    """The domain error encoded in a Triton error message, or None when it carries none."""
    match = _PREFIX.search(message)
    if match is None:
        return None
    code, reason, text = match["code"], match["reason"], match["message"]
    classes = [c for c in _all_error_classes() if c.__module__ == errors.__name__]
    by_reason = [c for c in classes if c.reason == reason and c.code == code]
    by_code = [c for c in classes if c.code == code and c.reason == code]
    cls = (by_reason or by_code or [TangoError])[0]
    return cls(text, reason=reason)


def checkpoint_id(value: str) -> str:
    """Validate a checkpoint id: a plain name (letters, digits, '_', '-', '.'), no path, no '..'."""
    if not _CHECKPOINT_ID.fullmatch(value) or ".." in value:
        raise InvalidArgument(f"checkpoint id {value!r} is not a plain name", reason="BAD_CHECKPOINT_ID")
    return value


def transition_inputs(pb_utils, request) -> tuple[np.ndarray, np.ndarray, int, str]:
    """BEFORE (k, H, W, 3), AFTER (k, H, W, 3), NUM_FRAMES and METHOD ("flow" when absent) of an
    interpolation request (the interface every `interp_*` model shares)."""
    before = pb_utils.get_input_tensor_by_name(request, "BEFORE").as_numpy()
    after = pb_utils.get_input_tensor_by_name(request, "AFTER").as_numpy()
    num_frames = int(pb_utils.get_input_tensor_by_name(request, "NUM_FRAMES").as_numpy().reshape(-1)[0])
    method = pb_utils.get_input_tensor_by_name(request, "METHOD")
    return before, after, num_frames, "flow" if method is None else string_input(method.as_numpy())


LAYER_INPUTS = ("MASKS_BEFORE", "MASKS_AFTER", "PLATE", "LANDMARKS_BEFORE", "LANDMARKS_AFTER")


def layer_inputs(pb_utils, request) -> tuple[np.ndarray | None, ...]:
    """Optional inputs of the `layered` method, in `LAYER_INPUTS` order: MASKS_BEFORE / MASKS_AFTER (k, Hm, Wm)
    uint8 person masks at perception's resolution (0/1), PLATE (H, W, 3) uint8 background plate, and
    LANDMARKS_BEFORE / LANDMARKS_AFTER (k, 95, 3) float32 face landmarks (normalised, NaN rows: no face)."""
    def optional(name: str) -> np.ndarray | None:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        return None if tensor is None else tensor.as_numpy()

    return tuple(optional(name) for name in LAYER_INPUTS)


class FrameMetrics:
    """`<prefix>_frames_generated_total` and `<prefix>_frame_seconds` of an interpolation model, per label set.

    pb_utils metric families must outlive their metrics, so both are kept here until `close()`."""

    def __init__(self, pb_utils, prefix: str, what: str, buckets: list[float]):
        self.counter_family = pb_utils.MetricFamily(name=f"{prefix}_frames_generated_total",
                                                    description=f"{what} frames generated",
                                                    kind=pb_utils.MetricFamily.COUNTER)
        self.seconds_family = pb_utils.MetricFamily(name=f"{prefix}_frame_seconds",
                                                    description=f"Seconds per generated {what} frame",
                                                    kind=pb_utils.MetricFamily.HISTOGRAM)
        self.buckets = buckets
        self.metrics: dict[tuple, tuple] = {}  # sorted label items -> (counter, histogram)

    def record(self, labels: dict[str, str], frames: int, seconds: float) -> None:
        key = tuple(sorted(labels.items()))
        if key not in self.metrics:
            self.metrics[key] = (self.counter_family.Metric(labels=labels),
                                 self.seconds_family.Metric(labels=labels, buckets=self.buckets))
        counter, histogram = self.metrics[key]
        counter.increment(frames)
        histogram.observe(seconds / max(frames, 1))

    def close(self) -> None:
        self.metrics = {}


def string_input(array: np.ndarray) -> str:
    """The first element of a TYPE_STRING tensor as text."""
    item = array.reshape(-1)[0]
    return item.decode("utf-8") if isinstance(item, bytes) else str(item)
