"""Passwords: argon2id at OWASP's minimum cost, and older werkzeug hashes upgraded at login
without ending the user's sessions."""

from __future__ import annotations

from werkzeug.security import generate_password_hash

from gridapp.accounts.service import authenticate, hash_password, verify_password
from gridapp.org.models import User
from tests.conftest import PASSWORD


def test_new_hashes_are_argon2id_at_owasp_minimum():
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "correct hors")
    assert not verify_password("$argon2id$garbage", "correct horse")


def test_old_scrypt_hash_is_upgraded_at_login_and_session_survives(make_user, login_as):
    user = make_user("grid_worker")
    User.update(password_hash=generate_password_hash(PASSWORD, method="scrypt")).where(
        User.id == user.id
    ).execute()
    client = login_as(user)  # logs in through the old hash
    stored = User.get_by_id(user.id)
    assert stored.password_hash.startswith("$argon2id$")
    assert stored.version == user.version  # not a credential change
    assert client.get("/api/v1/me").status_code == 200
    assert authenticate(user.username, PASSWORD).id == user.id  # the new hash verifies
