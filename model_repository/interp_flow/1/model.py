"""Triton Python model `interp_flow`: a thin adapter over tango.interp.transition (see config.pbtxt)."""
from __future__ import annotations

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils

from tango.interp.flow import FlowInterpolatorConfig
from tango.interp.transition import TransitionConfig, TransitionInterpolator
from tango.runtime.errors import TangoError
from tango.triton.model_support import string_input, triton_error


class TritonPythonModel:
    def initialize(self, args):
        parameters = {k: v["string_value"] for k, v in json.loads(args["model_config"]).get("parameters", {}).items()}
        flow = FlowInterpolatorConfig(
            preset=parameters.get("flow_preset", "medium"),
            flow_max_side=int(parameters.get("flow_max_side", "512")),
            use_outer_frames=parameters.get("use_outer_frames", "true").lower() == "true",
        )
        self.interpolator = TransitionInterpolator(TransitionConfig(flow=flow))
        self.frames_counter = pb_utils.MetricFamily(
            name="tango_interp_frames_generated_total", description="Transition frames generated",
            kind=pb_utils.MetricFamily.COUNTER,
        )
        self.frame_seconds = pb_utils.MetricFamily(
            name="tango_interp_frame_seconds", description="Seconds per generated transition frame",
            kind=pb_utils.MetricFamily.HISTOGRAM,
        )
        self.metrics = {}  # method -> (counter, histogram); the families above must outlive them

    def _metrics(self, method: str):
        if method not in self.metrics:
            labels = {"method": method}
            self.metrics[method] = (
                self.frames_counter.Metric(labels=labels),
                self.frame_seconds.Metric(labels=labels, buckets=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]),
            )
        return self.metrics[method]

    def execute(self, requests):
        return [self._execute_one(request) for request in requests]

    def _execute_one(self, request):
        try:
            before = pb_utils.get_input_tensor_by_name(request, "BEFORE").as_numpy()  # (k, H, W, 3)
            after = pb_utils.get_input_tensor_by_name(request, "AFTER").as_numpy()  # (k, H, W, 3)
            num_frames = int(pb_utils.get_input_tensor_by_name(request, "NUM_FRAMES").as_numpy().reshape(-1)[0])
            method_tensor = pb_utils.get_input_tensor_by_name(request, "METHOD")
            method = "flow" if method_tensor is None else string_input(method_tensor.as_numpy())
            began = time.perf_counter()
            frames = self.interpolator.interpolate(before, after, num_frames, method)  # (n, H, W, 3)
            counter, histogram = self._metrics(method)
            counter.increment(num_frames)
            histogram.observe((time.perf_counter() - began) / num_frames)
            return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("FRAMES", np.ascontiguousarray(frames))])
        except TangoError as error:
            return pb_utils.InferenceResponse(error=triton_error(pb_utils, error))

    def finalize(self):
        self.interpolator = None
        self.metrics = {}

