"""The one call a service makes to the accounts service: password sign-in for the admin form.

It posts the credentials to the accounts GraphQL `login` mutation and returns the access
token; the token is then verified like any other (signature, claims, session state).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from common.auth.conf import auth_setting

logger = logging.getLogger("common.auth")

LOGIN_MUTATION = """
mutation AdminSignIn($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}
"""
MAX_RESPONSE_BYTES = 64 * 1024


def login(*, email: str, password: str, client_ip: str | None = None) -> str | None:
    """The access token for these credentials, or None (wrong credentials, rate limited, unreachable)."""
    url = auth_setting("AUTH_ACCOUNTS_GRAPHQL_URL")
    if not url.startswith(("http://", "https://")):
        raise ValueError("AUTH_ACCOUNTS_GRAPHQL_URL must be an http(s) URL")
    body = json.dumps({"query": LOGIN_MUTATION, "variables": {"email": email, "password": password}}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if client_ip:
        # Lets accounts rate-limit per originating IP (it decides whether to trust the header).
        headers["X-Forwarded-For"] = client_ip
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=float(auth_setting("AUTH_HTTP_TIMEOUT_SECONDS"))) as response:  # noqa: S310
            result = json.loads(response.read(MAX_RESPONSE_BYTES))
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        logger.warning("Accounts sign-in at %s failed: %s", url, exc)
        return None
    if result.get("errors"):
        codes = [(error.get("extensions") or {}).get("code") for error in result["errors"]]
        logger.info("Accounts refused admin sign-in for %s: %s", email, codes)
        return None
    token = ((result.get("data") or {}).get("login") or {}).get("accessToken")
    return token if isinstance(token, str) else None
