"""Typed client of the Triton models (tritonclient over gRPC), raising tango.runtime.errors.

- server unreachable -> Unavailable(reason TRITON_UNAVAILABLE)
- model not loaded/ready -> ModelNotReady, with Triton's reason text
- a model's per-request error -> the domain error it encoded (e.g. NotFound reason CHECKPOINT_NOT_FOUND)
- client timeout -> DeadlineExceeded(reason TRITON_TIMEOUT)
"""
from __future__ import annotations

import numpy as np

from tango.runtime.errors import DeadlineExceeded, InvalidArgument, ModelNotReady, TangoError, Unavailable
from tango.runtime.tls import TlsFiles
from tango.triton.model_support import decode_error

AUDIO_MODEL = "aumoclip_audio"
MOTION_MODEL = "aumoclip_motion"
INTERP_MODEL = "interp_flow"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def triton_grpc_client(url: str, tls: TlsFiles | None = None, **kwargs):
    """tritonclient's gRPC client, over mutual TLS when `tls` is given (Triton's --grpc-use-ssl-mutual)."""
    import tritonclient.grpc as grpcclient

    if tls is None:
        return grpcclient.InferenceServerClient(url, **kwargs)
    return grpcclient.InferenceServerClient(url, ssl=True, root_certificates=str(tls.ca), private_key=str(tls.key),
                                            certificate_chain=str(tls.cert), **kwargs)


class TritonClient:
    """One gRPC channel to a Triton server; thread-safe for concurrent calls (tritonclient's is)."""

    def __init__(self, url: str, timeout_s: float = 30.0, tls: TlsFiles | None = None):
        import tritonclient.grpc as grpcclient

        self.url = url
        self.timeout_s = timeout_s
        self._grpc = grpcclient
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        self._client = triton_grpc_client(url, tls, channel_args=options)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "TritonClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---- health ----

    def is_server_ready(self) -> bool:
        return self._call(lambda: self._client.is_server_ready(client_timeout=self.timeout_s), model=None)

    def is_model_ready(self, name: str) -> bool:
        return self._call(lambda: self._client.is_model_ready(name, client_timeout=self.timeout_s), model=None)

    def model_state(self, name: str) -> tuple[str, str]:
        """(state, reason) of a model from the repository index, the reason without the Python backend's
        traceback; ("", "") when it is not listed."""
        index = self._call(lambda: self._client.get_model_repository_index(as_json=True, client_timeout=self.timeout_s),
                           model=None)
        for model in index.get("models", []):
            if model["name"] == name:
                return model.get("state", ""), model.get("reason", "").split("\n\nAt:")[0].strip()
        return "", ""

    # ---- models ----

    def embed_audio(self, wave: np.ndarray, checkpoint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """wave (S,) or (B, S) float32 16 kHz -> low (T, D) / (B, T, D), high (D,) / (B, D)."""
        return self._embed(AUDIO_MODEL, "WAVEFORM", np.asarray(wave, np.float32), 1, checkpoint)

    def embed_motion(self, motion: np.ndarray, checkpoint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """motion (T, J, C) or (B, T, J, C) float32 -> low (T, D) / (B, T, D), high (D,) / (B, D)."""
        return self._embed(MOTION_MODEL, "MOTION", np.asarray(motion, np.float32), 3, checkpoint)

    def interpolate(self, before: np.ndarray, after: np.ndarray, num_frames: int, method: str = "flow",
                    model: str = INTERP_MODEL, layers: tuple[np.ndarray | None, ...] | None = None,
                    ) -> np.ndarray:
        """before (k, H, W, 3) uint8, after (k, H, W, 3) uint8 -> (num_frames, H, W, 3) uint8.

        `model` names the Triton interpolation model, so a diffusion interpolator can replace the flow one.
        `layers` (method "layered"): person masks of the context frames (k, Hm, Wm) uint8 x 2, the
        background plate (H, W, 3) uint8 or None and, optionally, the face landmarks of the context frames
        (k, 95, 3) float32 x 2 (None: the face is drawn by flow)."""
        inputs = [
            self._input("BEFORE", np.ascontiguousarray(before, np.uint8), "UINT8"),
            self._input("AFTER", np.ascontiguousarray(after, np.uint8), "UINT8"),
            self._input("NUM_FRAMES", np.array([num_frames], np.int32), "INT32"),
            self._input("METHOD", np.array([method.encode()], np.object_), "BYTES"),
        ]
        if layers is not None:
            types = {"MASKS_BEFORE": np.uint8, "MASKS_AFTER": np.uint8, "PLATE": np.uint8,
                     "LANDMARKS_BEFORE": np.float32, "LANDMARKS_AFTER": np.float32}
            inputs += [self._input(name, np.ascontiguousarray(array, types[name]),
                                   "UINT8" if types[name] is np.uint8 else "FP32")
                       for name, array in zip(types, layers) if array is not None]
        result = self._infer(model, inputs, ["FRAMES"])
        return result.as_numpy("FRAMES")

    # ---- plumbing ----

    def _embed(self, model: str, name: str, array: np.ndarray, item_rank: int, checkpoint: str | None):
        single = array.ndim == item_rank
        if array.ndim not in (item_rank, item_rank + 1):
            raise InvalidArgument(f"{name} must have {item_rank} or {item_rank + 1} dims, got {array.shape}",
                                  reason="BAD_EMBED_INPUT")
        batch = np.ascontiguousarray(array[None] if single else array)
        inputs = [self._input(name, batch, "FP32")]
        if checkpoint:
            inputs.append(self._input("CHECKPOINT", np.array([[checkpoint.encode()]] * batch.shape[0], np.object_), "BYTES"))
        result = self._infer(model, inputs, ["LOW", "HIGH"])
        low, high = result.as_numpy("LOW"), result.as_numpy("HIGH")  # (B, T, D), (B, D)
        return (low[0], high[0]) if single else (low, high)

    def _input(self, name: str, array: np.ndarray, datatype: str):
        tensor = self._grpc.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        return tensor

    def _infer(self, model: str, inputs, outputs):
        requested = [self._grpc.InferRequestedOutput(name) for name in outputs]
        return self._call(lambda: self._client.infer(model, inputs, outputs=requested, client_timeout=self.timeout_s),
                          model=model)

    def _call(self, action, model: str | None):
        from tritonclient.utils import InferenceServerException

        try:
            return action()
        except InferenceServerException as exc:
            raise self._translate(exc, model) from exc

    def _translate(self, exc, model: str | None) -> TangoError:
        status = str(exc.status() or "")
        message = exc.message() or str(exc)
        encoded = decode_error(message)
        if encoded is not None:
            return encoded
        if "DEADLINE_EXCEEDED" in status or "Deadline Exceeded" in message:
            return DeadlineExceeded(f"Triton at {self.url}: no answer within {self.timeout_s} s",
                                    reason="TRITON_TIMEOUT")
        if "UNAVAILABLE" in status and model is None or _server_down(status, message):
            return Unavailable(f"Triton at {self.url} is unreachable: {message}", reason="TRITON_UNAVAILABLE")
        if model is not None and ("not ready" in message or "unknown model" in message or "UNAVAILABLE" in status):
            return self._not_ready(model, message)
        if "INVALID_ARGUMENT" in status:
            return InvalidArgument(f"{model}: {message}", reason="TRITON_INVALID_INPUT")
        return Unavailable(f"Triton call to {model or 'server'} failed: {status} {message}", reason="TRITON_ERROR")

    def _not_ready(self, model: str, message: str) -> TangoError:
        try:
            state, reason = self.model_state(model)
        except TangoError:
            state, reason = "", ""
        detail = reason or message.split("\n\nAt:")[0].strip()  # without the stub's Python traceback
        return ModelNotReady(f"model {model} is not ready ({state or 'not loaded'}): {detail}",
                             metadata={"model": model, "state": state or "UNLOADED"})


def _server_down(status: str, message: str) -> bool:
    text = f"{status} {message}".lower()
    return any(marker in text for marker in ("failed to connect", "connection refused", "connect failed",
                                             "dns resolution failed", "socket closed", "broken pipe"))
