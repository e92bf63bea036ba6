"""Password hashing: scrypt, salted, versioned, constant-time, and services that use it."""

import pytest

from keystore import passwords
from keystore.errors import ValidationError
from keystore.services import admins
from tests.worlds import ACTOR

PASSWORD = "correct horse battery staple"


def test_a_hash_is_salted_versioned_and_verifies():
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first != second  # a fresh salt each time
    assert first.startswith(f"scrypt$1${passwords.N}${passwords.R}${passwords.P}$")
    assert passwords.verify_password(PASSWORD, first)
    assert not passwords.verify_password(PASSWORD + "!", first)


@pytest.mark.parametrize("stored", [None, "", "bcrypt$2b$...", "scrypt$1$x$8$1$AA==$AA==", "a$b"])
def test_missing_or_foreign_hashes_never_verify(stored):
    assert not passwords.verify_password(PASSWORD, stored)


@pytest.mark.parametrize("weak", ["", "short", "x" * 300, None])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError) as refused:
        passwords.check_strength(weak)
    assert refused.value.field == "password"


def test_an_admin_authenticates_with_the_password_only(session):
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    admins.set_password(session, actor=ACTOR, email="ada@example.com", password=PASSWORD)
    assert admins.authenticate(session, email="ADA@example.com ", password=PASSWORD).name == "Ada"
    assert admins.authenticate(session, email="ada@example.com", password="nope") is None
    assert admins.authenticate(session, email="bob@example.com", password=PASSWORD) is None
