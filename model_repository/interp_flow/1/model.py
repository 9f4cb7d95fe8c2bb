"""Triton Python model `interp_flow`: a thin adapter over tango.interp.transition (see config.pbtxt)."""
from __future__ import annotations

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils

from tango.interp.flow import FlowInterpolatorConfig
from tango.interp.masks import refine_masks
from tango.interp.transition import TransitionConfig, TransitionInterpolator
from tango.runtime.errors import InvalidArgument, TangoError
from tango.triton.model_support import FrameMetrics, layer_inputs, transition_inputs, triton_error

SECONDS_BUCKETS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


class TritonPythonModel:
    def initialize(self, args):
        parameters = {k: v["string_value"] for k, v in json.loads(args["model_config"]).get("parameters", {}).items()}
        flow = FlowInterpolatorConfig(
            preset=parameters.get("flow_preset", "medium"),
            flow_max_side=int(parameters.get("flow_max_side", "512")),
            use_outer_frames=parameters.get("use_outer_frames", "true").lower() == "true",
        )
        self.interpolator = TransitionInterpolator(TransitionConfig(flow=flow))
        self.metrics = FrameMetrics(pb_utils, "tango_interp", "Transition", SECONDS_BUCKETS)  # label: method

    def execute(self, requests):
        return [self._execute_one(request) for request in requests]

    def _execute_one(self, request):
        try:
            before, after, num_frames, method = transition_inputs(pb_utils, request)  # (k, H, W, 3) x 2
            began = time.perf_counter()
            frames = self.interpolator.interpolate(before, after, num_frames, method,
                                                   **self._layers(request, before, after, method))  # (n, H, W, 3)
            self.metrics.record({"method": method}, num_frames, time.perf_counter() - began)
            return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("FRAMES", np.ascontiguousarray(frames))])
        except TangoError as error:
            return pb_utils.InferenceResponse(error=triton_error(pb_utils, error))

    @staticmethod
    def _layers(request, before: np.ndarray, after: np.ndarray, method: str) -> dict:
        """`layered`: perception's low-resolution masks refined on the frames (guided filter), the plate and the
        face landmarks (checked by TransitionInterpolator)."""
        if method != "layered":
            return {}
        masks_before, masks_after, plate, landmarks_before, landmarks_after = layer_inputs(pb_utils, request)
        if masks_before is None or masks_after is None:
            return {}  # TransitionInterpolator answers MASKS_REQUIRED
        if len(masks_before) != len(before) or len(masks_after) != len(after):
            raise InvalidArgument("one mask per context frame", reason="BAD_TRANSITION_INPUT")
        return {"masks_before": refine_masks(before, masks_before > 0), "masks_after": refine_masks(after, masks_after > 0),
                "plate": plate, "landmarks_before": landmarks_before, "landmarks_after": landmarks_after}

    def finalize(self):
        self.interpolator = None
        self.metrics.close()
