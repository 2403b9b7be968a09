"""Domain errors that services raise and the API maps to HTTP statuses."""

from __future__ import annotations


class HubError(Exception):
    """Base of the hub's expected errors; the message is safe to show to the caller."""


class NotFoundError(HubError):
    """The object does not exist, or the caller may not know that it does (another ward's)."""


class ConflictError(HubError):
    """The request is valid but contradicts the current state (e.g. resolving a resolved alert)."""


class InvalidRequestError(HubError):
    """The request is well-formed but cannot be carried out as asked (e.g. an unregistered device)."""


class ForbiddenError(HubError):
    """The caller's role does not allow this action."""


class GoneError(HubError):
    """The object existed but its content was deleted for good (an expired snapshot's image)."""


class UnavailableError(HubError):
    """The hub cannot carry out the request right now (e.g. it has no broker connection for commands)."""


class UnprocessableError(HubError):
    """The body is well-formed but its values are not acceptable now (e.g. a travel date in the future)."""


class RateLimitedError(HubError):
    """Too many requests of this kind from this caller; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
