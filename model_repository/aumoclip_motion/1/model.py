"""Triton Python model `aumoclip_motion`: a thin adapter over tango.triton.aumoclip_model (see config.pbtxt)."""
import triton_python_backend_utils as pb_utils

from tango.triton.aumoclip_model import AuMoCLIPTritonModel


class TritonPythonModel(AuMoCLIPTritonModel):
    kind = "motion"
    input_name = "MOTION"
    pb_utils = pb_utils
