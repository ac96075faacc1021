"""The JSON API's errors: ``ApiError`` (status and message) and the one body every error has,
``{"error": {"status": ..., "message": ...}}`` (the ``Error`` schema of the OpenAPI document)."""
from __future__ import annotations


class ApiError(Exception):
    """A client error with its HTTP status and a message naming what was wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}
