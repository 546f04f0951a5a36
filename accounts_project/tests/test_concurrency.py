"""Races the row locks must win: two refreshes with one token, two registrations with one email."""

from __future__ import annotations

import pytest
from accounts import commands
from accounts.models import Session, User
from common.errors import DomainError
from common.testing.threads import run_concurrently

from tests.helpers import PASSWORD

# Real concurrent transactions need committed data, so these tests run outside the test transaction.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("committed_roles")]


def test_two_refreshes_with_one_token_cannot_both_win(make_user):
    user = make_user("racer@example.com")
    issued = commands.login(email=user.email, password=PASSWORD, address="127.0.0.1")
    token = issued.refresh.token
    results = run_concurrently([lambda: commands.refresh_session(refresh_token=token)] * 2)
    winners = [r for r in results if isinstance(r, commands.IssuedSession)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].code == "UNAUTHENTICATED"
    # The second use of the same token is a reuse: the session is gone, the winner's tokens too.
    assert Session.objects.get(pk=issued.session.pk).revoke_reason == "refresh_reuse"


def test_two_registrations_with_one_email_give_one_user_and_the_same_answer(db):
    results = run_concurrently([lambda: commands.register_user(email="twin@example.com", password=PASSWORD)] * 2)
    # Both answer like a registration (a taken email is never revealed), one account exists.
    assert all(isinstance(r, User) and r.email == "twin@example.com" for r in results), results
    assert User.objects.filter(email="twin@example.com").count() == 1
    assert User.objects.filter(email="twin@example.com").count() == 1
