"""Every domain error of the product, in one module.

Core modules raise these; the single server interceptor (`tango.runtime.interceptor`) maps each to its
canonical gRPC code with a `google.rpc.ErrorInfo(reason=..., domain=ERROR_DOMAIN)`. Nothing here imports
grpc: the code is named by its canonical string and resolved by the interceptor.
"""
from __future__ import annotations

ERROR_DOMAIN = "tango.reenact"


class TangoError(Exception):
    """Base of all domain errors. `code` is a canonical gRPC status name, `reason` UPPER_SNAKE."""

    code = "INTERNAL"
    reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = {k: str(v) for k, v in (metadata or {}).items()}


class InvalidArgument(TangoError):
    code, reason = "INVALID_ARGUMENT", "INVALID_ARGUMENT"


class NotFound(TangoError):
    code, reason = "NOT_FOUND", "NOT_FOUND"


class AlreadyExists(TangoError):
    code, reason = "ALREADY_EXISTS", "ALREADY_EXISTS"


class FailedPrecondition(TangoError):
    code, reason = "FAILED_PRECONDITION", "FAILED_PRECONDITION"


class PermissionDenied(TangoError):
    code, reason = "PERMISSION_DENIED", "PERMISSION_DENIED"


class Unauthenticated(TangoError):
    code, reason = "UNAUTHENTICATED", "UNAUTHENTICATED"


class ResourceExhausted(TangoError):
    code, reason = "RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED"


class Unavailable(TangoError):
    code, reason = "UNAVAILABLE", "UNAVAILABLE"


class Cancelled(TangoError):
    code, reason = "CANCELLED", "CANCELLED"


class DeadlineExceeded(TangoError):
    code, reason = "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED"


# ---- specific errors with fixed reasons (raise these where they fit) ----

class CorruptMedia(InvalidArgument):
    reason = "CORRUPT_MEDIA"


class EmptyMedia(InvalidArgument):
    reason = "EMPTY_MEDIA"


class NotAVideo(InvalidArgument):
    reason = "NOT_A_VIDEO"


class UnsupportedAudio(InvalidArgument):
    reason = "UNSUPPORTED_AUDIO"


class SilentAudio(InvalidArgument):
    reason = "SILENT_AUDIO"


class MediaTooLarge(InvalidArgument):
    reason = "MEDIA_TOO_LARGE"


class NoPerson(FailedPrecondition):
    reason = "NO_PERSON"


class SeveralPeople(FailedPrecondition):
    reason = "SEVERAL_PEOPLE"


class UriNotAllowed(PermissionDenied):
    reason = "URI_NOT_ALLOWED"


class ArtifactNotFound(NotFound):
    reason = "ARTIFACT_NOT_FOUND"


class WrongArtifactKind(InvalidArgument):
    reason = "WRONG_ARTIFACT_KIND"


class InputMismatch(InvalidArgument):
    reason = "INPUT_MISMATCH"


class GraphTooSmall(FailedPrecondition):
    reason = "GRAPH_TOO_SMALL"


class CheckpointMismatch(FailedPrecondition):
    reason = "CHECKPOINT_MISMATCH"


class ModelNotReady(Unavailable):
    reason = "MODEL_NOT_READY"


class MemoryBoundExceeded(ResourceExhausted):
    reason = "MEMORY_BOUND_EXCEEDED"


class TooManyJobs(ResourceExhausted):
    reason = "TOO_MANY_JOBS"
