"""What token verification costs per request (one run, figures and ratios).

    cd catalog_project && ../.venv/bin/python ../bench/auth_verify.py

Uses the catalog settings, a real local JWKS server and the real Redis registry (REDIS_URL).
Measures: signature + claims only; + registry check through the sub-second cache (the common
case); + registry check with the cache off (one Redis round trip per request); and the whole
AuthMiddleware on a trivial view, anonymous vs with a token.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catalog_project.settings.dev")

import django

django.setup()

from common.auth.jwks import reset_jwks_client  # noqa: E402
from common.auth.middleware import AuthMiddleware  # noqa: E402
from common.auth.testing import AccountsStub, KeyPair, TokenMinter  # noqa: E402
from common.auth.tokens import clear_state_cache, verify_access_token  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

N = 3000


def per_op_us(fn: Callable[[], object], n: int = N) -> float:
    for _ in range(200):
        fn()
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    stub = AccountsStub(minter=TokenMinter(KeyPair()))
    settings.AUTH_JWKS_URL = stub.jwks_url
    reset_jwks_client()
    minted = stub.minter.mint(roles=["catalog_manager"])
    token = minted.token

    signature_only = per_op_us(lambda: verify_access_token(token, check_state=False))
    cached = per_op_us(lambda: verify_access_token(token))
    settings.AUTH_STATE_CACHE_SECONDS = 0
    clear_state_cache()
    uncached = per_op_us(lambda: verify_access_token(token))
    settings.AUTH_STATE_CACHE_SECONDS = 0.5

    middleware = AuthMiddleware(lambda request: HttpResponse("ok"))
    factory = RequestFactory()
    anonymous = per_op_us(lambda: middleware(factory.post("/graphql/")))
    bearer = per_op_us(lambda: middleware(factory.post("/graphql/", HTTP_AUTHORIZATION=f"Bearer {token}")))
    stub.close()

    print(f"verify: signature + claims             {signature_only:8.1f} us/op")
    print(f"verify: + registry, cached (<=0.5 s)   {cached:8.1f} us/op")
    print(f"verify: + registry, Redis round trip   {uncached:8.1f} us/op  ({uncached / cached:.1f}x the cached path)")
    print(f"middleware, anonymous request          {anonymous:8.1f} us/op")
    print(f"middleware, bearer token               {bearer:8.1f} us/op  (+{bearer - anonymous:.1f} us per request)")
    print(f"jwks fetches during the run            {stub.jwks_requests:8d}")


if __name__ == "__main__":
    main()
