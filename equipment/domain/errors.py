"""Domain errors. Adapters map them to HTTP statuses or dead-letter reasons in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``reason`` is a sentence a user can act on; ``field`` names the input at fault, if any.
    """

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class InvalidValue(DomainError):
    """An input value breaks a rule (bad code, unknown category, impossible date...)."""


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it exists."""


class Conflict(DomainError):
    """The request contradicts the stored state (duplicate code, scrapped unit...)."""


class TransitionRefused(Conflict):
    """A registration-workflow transition is not allowed from the unit's current status."""


class StaleVersion(DomainError):
    """The caller edited an out-of-date version of the record (optimistic concurrency)."""


class VersionRequired(DomainError):
    """An update came without the version it was based on."""


class Forbidden(DomainError):
    """The caller is known but its role may not do this."""


class Unauthenticated(DomainError):
    """No valid credentials were presented."""


class Busy(DomainError):
    """The service has no room for this now (every live stream of the process is taken);
    the same request later can succeed."""


class TooManyAttempts(DomainError):
    """Too many tries in a short time (failed logins): wait ``retry_after`` seconds."""

    def __init__(self, reason: str, *, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
