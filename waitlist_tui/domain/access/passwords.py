"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

A password is checked here and hashed here; it is never stored, logged or returned."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from waitlist_tui.domain.errors import ValidationError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # a megabyte "password" would cost the server, not an attacker


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def check_rule(password: object) -> str:
    """The password as given, or a 4000 naming the rule (it is never echoed)."""
    if not isinstance(password, str):
        raise ValidationError("password must be text", field="password")
    if len(password) < MIN_LENGTH:
        raise ValidationError(
            f"password must be at least {MIN_LENGTH} characters", field="password"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"password must be at most {MAX_LENGTH} characters", field="password")
    if "\x00" in password:
        raise ValidationError("password must not contain NUL characters", field="password")
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(check_rule(password))


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash. No hash (an account without a password,
    or an unknown name) still spends one hash's time, so timing does not tell them apart."""
    if len(password) > MAX_LENGTH:
        return False
    if not stored:
        _hasher().hash(password or "-")
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """The hash was made with weaker parameters than today's (rehashed at the next login)."""
    try:
        return _hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return False
