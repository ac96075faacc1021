"""The one error a service raises for its user: ``ServiceError``, messages per form field.

A service refuses a change by raising a ``ServiceError`` (or one of its named kinds:
``RegistrationError``, ``ElectionError``, ``AreaError``...), with messages safe to show. Each
message may name the form field it is about (``field``); a message without one belongs to the
whole form (the error summary). Views put them on their forms with ``PageForm.add_service_error``;
the JSON API answers them as 400/409; CLI commands print them. Nothing was written: the
service's transaction (``transactions.one_transaction``) was rolled back.
"""
from __future__ import annotations

from collections.abc import Iterable


class ServiceError(ValueError):
    """A refused change. ``ServiceError("message", "field")`` is one message about one field;
    ``ServiceError(["a", "b"])`` several about the whole form; ``ServiceError.per_field({"name":
    ["..."], None: ["..."]})`` several, each about its field."""

    def __init__(self, messages: str | Iterable[str], field: str | None = None):
        listed = [messages] if isinstance(messages, str) else list(messages)
        self.problems: list[tuple[str | None, str]] = [(field, m) for m in listed]
        super().__init__("; ".join(listed))

    @classmethod
    def per_field(cls, by_field: dict[str | None, str | Iterable[str]]) -> ServiceError:
        error = cls([])
        error.problems = [(name, m) for name, found in by_field.items()
                          for m in ([found] if isinstance(found, str) else list(found))]
        error.args = ("; ".join(m for _, m in error.problems),)
        return error

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.problems]

    @property
    def field(self) -> str | None:
        """The field of the first message (None: the whole form)."""
        return self.problems[0][0] if self.problems else None

    def by_field(self) -> dict[str | None, list[str]]:
        out: dict[str | None, list[str]] = {}
        for name, message in self.problems:
            out.setdefault(name, []).append(message)
        return out


CONCURRENT = "Someone else changed this at the same moment: nothing was saved. Reload and try again."
