"""The Triton Python model behind `aumoclip_audio` and `aumoclip_motion` (their model.py subclass it).

A subclass sets `kind`, `input_name` and `pb_utils` (the triton_python_backend_utils module, which exists
only inside the Triton stub). Inputs: `<input_name>` FP32 with the batch dim first, optional `CHECKPOINT`
TYPE_STRING [1]; outputs `LOW` FP32 (b, T, D) and `HIGH` FP32 (b, D). One response per request; a bad
input or unknown checkpoint fails only its own request.
"""
from __future__ import annotations

import json
import time

import numpy as np
import torch

from tango.runtime.errors import TangoError
from tango.triton.aumoclip_serving import AuMoCLIPServing, AuMoCLIPServingConfig, EmbedRequest
from tango.triton.model_support import encode_error, string_input, triton_error

BATCH_BUCKETS = [1, 2, 4, 8, 16, 32]
SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]


class AuMoCLIPTritonModel:
    kind = ""  # "audio" | "motion"
    input_name = ""  # "WAVEFORM" | "MOTION"
    pb_utils = None  # set by model.py

    def initialize(self, args):
        from tango.aumoclip.checkpoint import load_checkpoint

        pb = self.pb_utils
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        device = "cpu"
        if args.get("model_instance_kind") == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        labels = {"model": config["name"]}
        # the families must outlive their metrics: keep both
        self.families = {
            "loads": pb.MetricFamily(name="tango_aumoclip_checkpoint_loads_total",
                                     description="AuMoCLIP checkpoints loaded into memory", kind=pb.MetricFamily.COUNTER),
            "batch": pb.MetricFamily(name="tango_aumoclip_batch_items", description="Items per execute() call",
                                     kind=pb.MetricFamily.HISTOGRAM),
            "seconds": pb.MetricFamily(name="tango_aumoclip_execute_seconds", description="Seconds per execute() call",
                                       kind=pb.MetricFamily.HISTOGRAM),
            "threads": pb.MetricFamily(name="tango_aumoclip_torch_threads", kind=pb.MetricFamily.GAUGE,
                                       description="torch intra-op threads of the model instance"),
        }
        self.loads = self.families["loads"].Metric(labels=labels)
        self.batch_size = self.families["batch"].Metric(labels=labels, buckets=BATCH_BUCKETS)
        self.forward_seconds = self.families["seconds"].Metric(labels=labels, buckets=SECONDS_BUCKETS)
        self.threads = self.families["threads"].Metric(labels=labels)
        serving_config = AuMoCLIPServingConfig.from_env(self.kind, parameters, device=device)
        if serving_config.torch_threads > 0:  # an instance owns its stub process: scale by instances, not threads
            torch.set_num_threads(serving_config.torch_threads)
        self.threads.set(float(torch.get_num_threads()))
        # raises (model NOT READY) when require_default_checkpoint is set and the default cannot be loaded
        try:
            self.serving = AuMoCLIPServing(serving_config, load_checkpoint, on_load=lambda _id: self.loads.increment(1))
        except TangoError as error:  # the encoded reason shows in the repository index (client: ModelNotReady)
            raise RuntimeError(encode_error(error)) from error

    def _parse(self, request) -> EmbedRequest:
        pb = self.pb_utils
        array = pb.get_input_tensor_by_name(request, self.input_name).as_numpy()  # (b, ...)
        checkpoint_tensor = pb.get_input_tensor_by_name(request, "CHECKPOINT")
        checkpoint = "" if checkpoint_tensor is None else string_input(checkpoint_tensor.as_numpy())
        return EmbedRequest(checkpoint=checkpoint, array=array)

    def execute(self, requests):
        pb = self.pb_utils
        began = time.perf_counter()
        parsed = [self._parse(request) for request in requests]
        results = self.serving.embed_many(parsed)
        responses = []
        for result in results:
            if isinstance(result, TangoError):
                responses.append(pb.InferenceResponse(error=triton_error(pb, result)))
                continue
            low, high = result  # (b, T, D), (b, D)
            responses.append(pb.InferenceResponse(output_tensors=[
                pb.Tensor("LOW", np.ascontiguousarray(low, dtype=np.float32)),
                pb.Tensor("HIGH", np.ascontiguousarray(high, dtype=np.float32)),
            ]))
        self.batch_size.observe(float(sum(p.array.shape[0] for p in parsed)))
        self.forward_seconds.observe(time.perf_counter() - began)
        return responses

    def finalize(self):
        self.serving = None
        self.loads = self.batch_size = self.forward_seconds = self.threads = None
        self.families = {}
