"""Triton Python model `interp_acinterp`: a thin adapter over tango.acinterp.serving (see config.pbtxt)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from tango.acinterp.serving import ACInterpServing, ACInterpServingConfig
from tango.runtime.errors import TangoError
from tango.triton.model_support import FrameMetrics, encode_error, transition_inputs, triton_error

SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]


class TritonPythonModel:
    def initialize(self, args):
        parameters = {k: v["string_value"] for k, v in json.loads(args["model_config"]).get("parameters", {}).items()}
        device = "cpu"
        if args.get("model_instance_kind") == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        version_dir = Path(args["model_repository"]) / str(args["model_version"])
        try:  # weights load once, here; a failure leaves the model UNAVAILABLE with the encoded reason
            self.serving = ACInterpServing(ACInterpServingConfig.from_parameters(parameters, version_dir, device))
        except TangoError as error:
            raise RuntimeError(encode_error(error)) from error
        self.metrics = FrameMetrics(pb_utils, "tango_acinterp", "ACInterp", SECONDS_BUCKETS)
        self.labels = {"device": device}

    def execute(self, requests):
        return [self._execute_one(request) for request in requests]

    def _execute_one(self, request):
        try:
            before, after, num_frames, _method = transition_inputs(pb_utils, request)  # METHOD is interp_flow's
            began = time.perf_counter()
            frames = self.serving.interpolate(before, after, num_frames)  # (n, H, W, 3)
            self.metrics.record(self.labels, num_frames, time.perf_counter() - began)
            return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("FRAMES", np.ascontiguousarray(frames))])
        except TangoError as error:
            return pb_utils.InferenceResponse(error=triton_error(pb_utils, error))

    def finalize(self):
        self.serving = None
        self.metrics.close()
