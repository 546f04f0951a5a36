"""Browser sessions: login also sets an HttpOnly, SameSite Django session cookie kept in Redis and
bound to the server-side session; cookie calls need the CSRF header; ending the session ends it."""

from __future__ import annotations

from importlib import import_module

import pytest
from accounts.models import Session
from common.auth import registry
from django.conf import settings
from django.test import Client

from tests.helpers import ME, PASSWORD, GraphQLClient

pytestmark = pytest.mark.django_db

LOGOUT = "mutation { logout { endedSessions } }"
LOGOUT_ALL = "mutation { logoutAllSessions { endedSessions } }"


def session_store(key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)


@pytest.fixture
def browser() -> GraphQLClient:
    return GraphQLClient(Client(enforce_csrf_checks=True))


def csrf_header(client: GraphQLClient) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.client.cookies["csrftoken"].value}


def test_login_sets_a_hardened_cookie_backed_by_redis(browser, user):
    login = browser.login("casey@example.com")  # login itself needs no CSRF token: it is anonymous
    cookie = browser.client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) > 0
    assert "csrftoken" in browser.client.cookies

    store = session_store(cookie.value)
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"
    assert store.exists(cookie.value)
    assert store.load()["accounts_sid"] == login["session"]["id"]
    assert Session.objects.get(pk=login["session"]["id"]).web_session_key == cookie.value


def test_cookie_calls_need_the_csrf_header(browser, user):
    browser.login("casey@example.com")
    error = browser.error(ME)
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "CSRF" in error["message"]
    assert browser.data(ME, **csrf_header(browser))["me"]["email"] == "casey@example.com"


def test_logout_through_the_cookie_clears_it_and_ends_the_session(browser, user):
    login = browser.login("casey@example.com")
    key = browser.client.cookies[settings.SESSION_COOKIE_NAME].value
    assert browser.data(LOGOUT, **csrf_header(browser))["logout"] == {"endedSessions": 1}

    response_cookie = browser.last_response.cookies[settings.SESSION_COOKIE_NAME]
    assert response_cookie.value == "" and response_cookie["max-age"] == 0
    assert not session_store(key).exists(key)
    assert not registry.is_session_alive(login["session"]["id"])
    assert browser.error(ME, token=login["accessToken"])["extensions"]["code"] == "UNAUTHENTICATED"


def test_logout_with_the_token_ends_the_browser_login_of_that_session(browser, gql, user):
    login = browser.login("casey@example.com")
    key = browser.client.cookies[settings.SESSION_COOKIE_NAME].value
    gql.data(LOGOUT, token=login["accessToken"])  # e.g. the app logs out with its bearer token
    assert not session_store(key).exists(key)
    assert browser.data(ME, **csrf_header(browser))["me"] is None


def test_a_session_ended_elsewhere_logs_the_browser_out_on_its_next_request(browser, gql, user):
    login = browser.login("casey@example.com")
    key = browser.client.cookies[settings.SESSION_COOKIE_NAME].value
    # Simulate an end recorded in the registry only (e.g. by a Redis-side revocation): the cookie must not outlive it.
    registry.end_session(session_id=login["session"]["id"])
    assert session_store(key).exists(key)
    assert browser.data(ME, **csrf_header(browser))["me"] is None
    assert not session_store(key).exists(key)


def test_password_change_keeps_this_browser_and_ends_the_others(browser, user):
    login = browser.login("casey@example.com")
    other = GraphQLClient(Client(enforce_csrf_checks=True))
    other.login("casey@example.com")
    browser.data(
        "mutation($c:String!,$n:String!){changePassword(currentPassword:$c,newPassword:$n){endedSessions}}",
        {"c": PASSWORD, "n": "Brand-new-sturdy-88"},
        token=login["accessToken"],
    )
    assert browser.data(ME, **csrf_header(browser))["me"]["email"] == "casey@example.com"
    assert other.data(ME, **csrf_header(other))["me"] is None


def test_admin_login_form_opens_a_server_side_session_that_logout_all_ends(client, gql, make_user):
    make_user("staff@example.com", roles=("admin",), is_staff=True, is_superuser=True)
    response = client.post("/admin/login/?next=/admin/", {"username": "staff@example.com", "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert client.get("/admin/").status_code == 200
    sid = client.session["accounts_sid"]
    session = Session.objects.get(pk=sid)
    assert session.web_session_key == client.cookies[settings.SESSION_COOKIE_NAME].value
    assert registry.is_session_alive(sid)

    token = gql.login("staff@example.com")["accessToken"]
    gql.data(LOGOUT_ALL, token=token)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_logout_ends_the_server_side_session(client, make_user):
    make_user("staff@example.com", is_staff=True, is_superuser=True)
    client.post("/admin/login/?next=/admin/", {"username": "staff@example.com", "password": PASSWORD})
    sid = client.session["accounts_sid"]
    client.post("/admin/logout/")
    assert Session.objects.get(pk=sid).revoke_reason == "logout"
    assert not registry.is_session_alive(sid)


def test_the_admin_names_its_service_and_tells_a_catalog_manager_what_they_may_see(client, make_user):
    make_user("cat.staff@example.com", roles=("catalog_manager",), is_staff=True)
    response = client.post("/admin/login/?next=/admin/", {"username": "cat.staff@example.com", "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/admin/").content.decode()
    assert "<title>Accounts service | Accounts admin</title>" in page
    assert "Accounts service administration" in page
    # Nothing of accounts is theirs: the index says so, and where their permissions apply.
    assert "your roles give you nothing to see or change here" in page
    assert "roles: catalog_manager" in page and "catalog: add_category, add_product" in page
