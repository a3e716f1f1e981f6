"""Demo seeding checks each demo password in full once; real signatures check it every time."""

from __future__ import annotations

from typing import ClassVar

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.exceptions import PermissionDenied

from batches.accounts.identity import passwords_verified_once
from batches.services.common import confirm_password
from tests.factories import PASSWORD, Personas


class CountingHasher(MD5PasswordHasher):
    """The hasher the tests use, counting how often a password is verified against a stored hash."""

    algorithm = "counting_md5"
    verified: ClassVar[list[str]] = []

    def verify(self, password: str, encoded: str) -> bool:
        CountingHasher.verified.append(password)
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher(settings: pytest.FixtureRequest, fast_password_hashing: None) -> list[str]:
    settings.PASSWORD_HASHERS = ["tests.test_seed_passwords.CountingHasher"]  # type: ignore[attr-defined]
    CountingHasher.verified.clear()
    return CountingHasher.verified


@pytest.mark.urs("URS-040")
@pytest.mark.django_db
def test_outside_seeding_every_signature_checks_the_password(people: Personas, counting_hasher: list[str]) -> None:
    people.qa.set_password(PASSWORD)
    people.qa.save()
    for _ in range(3):
        confirm_password(people.qa, PASSWORD)
    assert counting_hasher == [PASSWORD] * 3


@pytest.mark.urs("URS-040")
@pytest.mark.django_db
def test_seeding_checks_each_password_once_and_still_refuses_a_wrong_or_changed_one(
    people: Personas, counting_hasher: list[str]
) -> None:
    for user in (people.qa, people.qp):
        user.set_password(PASSWORD)
        user.save()
    with passwords_verified_once():
        for _ in range(3):
            confirm_password(people.qa, PASSWORD)
            confirm_password(people.qp, PASSWORD)
        assert counting_hasher == [PASSWORD, PASSWORD]  # once per person

        with pytest.raises(PermissionDenied, match="password is not correct"):
            confirm_password(people.qa, "a-guess")  # a different password is checked in full, and refused

        people.qa.set_password("a-new-password-42")
        people.qa.save()
        with pytest.raises(PermissionDenied, match="password is not correct"):
            confirm_password(people.qa, PASSWORD)  # the old password does not outlive a change
        confirm_password(people.qa, "a-new-password-42")

    counting_hasher.clear()
    confirm_password(people.qp, PASSWORD)  # the block is over: checked in full again
    assert counting_hasher == [PASSWORD]


@pytest.mark.urs("URS-040")
@pytest.mark.django_db
def test_seeding_still_refuses_a_deactivated_account(people: Personas, counting_hasher: list[str]) -> None:
    people.qa.set_password(PASSWORD)
    people.qa.save()
    with passwords_verified_once():
        confirm_password(people.qa, PASSWORD)
        people.qa.is_active = False
        people.qa.save()
        with pytest.raises(PermissionDenied, match="deactivated"):
            confirm_password(people.qa, PASSWORD)
