"""Accounts: sign-up and credential checks. Argon2id hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from saas.accounts.models import User
from saas.extensions import db

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps login timing the same either way.
_DUMMY_HASH = _hasher.hash("timing-equaliser")


class EmailTaken(Exception):
    pass


def normalise_email(email: str) -> str:
    return (email or "").strip()


def find_by_email(email: str) -> User | None:
    if "\x00" in (email or ""):  # no account can have one, and PostgreSQL refuses the literal
        return None
    return db.session.execute(
        select(User).where(func.lower(User.email) == normalise_email(email).lower())
    ).scalar_one_or_none()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(email: str, password: str, *, is_admin: bool = False) -> User:
    email = normalise_email(email)
    if find_by_email(email):
        raise EmailTaken(email)
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
        db.session.rollback()
        raise EmailTaken(email) from exc
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_by_email(email)
    try:
        if user is None:
            _hasher.verify(_DUMMY_HASH, password)
            return None
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user
