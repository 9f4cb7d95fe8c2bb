"""Triton Python model `aumoclip_audio`: a thin adapter over tango.triton.aumoclip_model (see config.pbtxt)."""
import triton_python_backend_utils as pb_utils

from tango.triton.aumoclip_model import AuMoCLIPTritonModel


class TritonPythonModel(AuMoCLIPTritonModel):
    kind = "audio"
    input_name = "WAVEFORM"
    pb_utils = pb_utils
