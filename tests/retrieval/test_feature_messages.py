"""Audio features sent as bytes: sizes that are not whole float32s are the caller's error, not INTERNAL."""
from __future__ import annotations

import numpy as np
import pytest

from tango.retrieval.servicer import features_from_message
from tango.retrieval.v1 import retrieval_service_pb2 as pb
from tango.runtime.errors import InvalidArgument


def _message(**overrides) -> pb.AudioFeatures:
    low = np.zeros((4, 3), "<f4").tobytes()
    fields = {"frames": 4, "dim": 3, "low": low, "high": low, "high_windows": 4} | overrides
    return pb.AudioFeatures(**fields)


@pytest.mark.parametrize("field", ["low", "high", "waveform"])
def test_bytes_that_are_not_float32s_are_refused(field):
    with pytest.raises(InvalidArgument) as caught:
        features_from_message(_message(**{field: b"\x00" * 7}))
    assert caught.value.reason == "BAD_FEATURE_BYTES"
