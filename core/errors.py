"""Domain errors raised by services; the API turns each into its one error shape."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.details = details or {}


class InvalidInput(DomainError):
    status, code = 400, "validation_error"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Unprocessable(DomainError):
    status, code = 422, "unprocessable"


class ExternalIdReused(Unprocessable):
    """A sale's `external_id` posted again with a different body."""

    code = "external_id_reused"


class IdempotencyKeyReused(Unprocessable):
    """An `Idempotency-Key` sent again with a different request."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    """The first request with this `Idempotency-Key` has not answered (yet)."""

    code = "idempotency_in_progress"


class PreconditionFailed(DomainError):
    """An `If-Match` that is not the resource's current ETag: it changed since it was read."""

    status, code = 412, "precondition_failed"
