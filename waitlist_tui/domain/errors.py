"""Domain errors carry a code mirroring the HTTP-style APIs of the field (DESIGN.md section 5)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request; nothing was written."""

    code = 5000

    def __init__(self, message: str, *, field: str | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


class ValidationError(DomainError):
    """Bad input: names the field and the rule."""

    code = 4000


class Forbidden(DomainError):
    code = 4030


class NotFound(DomainError):
    code = 4040


class Conflict(DomainError):
    """The row moved on (closed, filled, or changed by another desk)."""

    code = 4090


class Unprocessable(DomainError):
    code = 4220


class Problems:
    """Every field's error at once (the desk saw one per save): checks run through `check`,
    and `raise_any` raises the first, carrying all of them in data["errors"] when there are
    several (the message stays the API's, for scripts)."""

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []

    def check(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ValidationError as err:
            self.errors.append(err)
            return None

    def fields(self) -> set[str]:
        return {(e.field or "").split(".")[0] for e in self.errors}

    def raise_any(self) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        if len(self.errors) == 1:
            raise first
        listed = [{"field": e.field, "message": e.message} for e in self.errors]
        raise ValidationError(first.message, field=first.field, data={"errors": listed})
