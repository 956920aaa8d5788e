"""Errors the CLI reports as one line on standard error (never a traceback)."""

from __future__ import annotations


class CliError(Exception):
    """A failure whose message is complete and fit to show the operator as is."""


class NeutronClientError(CliError):
    """The server answered with an error; carries Neutron's error type and the status."""

    def __init__(self, message: str, status_code: int, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type


class ResourceNotFound(CliError):
    """No resource matches the name or id the operator gave."""


class AmbiguousName(CliError):
    """Several resources share the name the operator gave."""
