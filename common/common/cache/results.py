"""Layer 2b, the result cache: a subgraph's serialized GraphQL answers, kept with the exact data
versions they were built from.

While a query runs, the data cache records the version of every namespace the read side
consulted (common.cache.dependencies). The JSON answer is stored with that list; it is served
again only while every one of those versions is unchanged, checked in one Redis round trip
(a Lua script). So invalidation is as precise as the data cache's: updating product X drops the
answers that read product X or a product list, not the answer for product Y.

Only what is safe to share is stored:
- query operations (never mutations), answers without errors, from requests whose scope
  function (setting CACHE_RESULT_SCOPE) returns a scope: by default only requests without
  credentials (no Authorization header, no session cookie) share answers; `visibility_scope`
  (the catalog's) shares them by what the caller may see: `public` (anonymous and shoppers) or `staff`;
- answers whose every database read went through the data cache (any SQL outside it makes the
  dependencies unknown, and the answer is not stored).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string

from common.cache.client import REDIS_ERRORS, LuaScript, redis_client, report_failure, setting
from common.cache.dependencies import Recording
from common.cache.keys import namespace_key, result_key
from common.cache.namespaces import flush_pending
from common.cache.readthrough import value_ttl
from common.cache.stats import counters

LAYER = "result"
PUBLIC = "public"
STAFF = "staff"

# KEYS[1]: the answer (a hash with `deps` = JSON [[version key, token], ...] and `body`).
# Returns the body while every recorded version is still current, else nil.
_FRESH_BODY = LuaScript("""
local deps = redis.call('HGET', KEYS[1], 'deps')
if not deps then return false end
for _, pair in ipairs(cjson.decode(deps)) do
  if redis.call('GET', pair[1]) ~= pair[2] then return false end
end
return redis.call('HGET', KEYS[1], 'body')
""")


def result_cache_enabled() -> bool:
    return bool(setting("CACHE_RESULT_ENABLED", True))


def anonymous_scope(request: HttpRequest) -> str | None:
    """The default scope: requests that carry no credentials share one public cache; any other
    request is not cached (a service whose answers depend on the caller plugs in its own)."""
    if request.META.get("HTTP_AUTHORIZATION") or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    return PUBLIC


def visibility_scope(request: HttpRequest) -> str | None:
    """For subgraphs whose answers depend only on what the caller may see, not on who calls (the
    catalog): every caller without a verified token and every signed-in shopper share `public`; staff
    (the token's `staff` claim) share `staff`, so a staff-only view (e.g. inactive products) never
    reaches shoppers. The token was verified by common.auth's middleware before the view: an invalid
    one never gets this far. Session cookies (the admin) are not cached, as in `anonymous_scope`."""
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    principal = getattr(request, "auth", None)
    if getattr(principal, "is_authenticated", False):
        return STAFF if principal.staff else PUBLIC
    # Credentials that nobody verified (no auth middleware in front) are not known to be public.
    return None if request.META.get("HTTP_AUTHORIZATION") else PUBLIC


def scope_for(request: HttpRequest) -> str | None:
    scope_function = import_string(setting("CACHE_RESULT_SCOPE", "common.cache.results.anonymous_scope"))
    return scope_function(request)


def request_digest(query: str, variables: Any, operation_name: str | None) -> str:
    canonical = json.dumps([query, variables, operation_name], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=20).hexdigest()


def lookup(scope: str, digest: str, kind: str) -> bytes | None:
    client = redis_client()
    if client is None or not flush_pending():
        counters.incr(LAYER, kind, "degraded")
        return None
    try:
        body = _FRESH_BODY(client, [result_key(scope, digest)], [])
    except REDIS_ERRORS as exc:
        report_failure(exc, "result read")
        counters.incr(LAYER, kind, "error")
        return None
    if body is None:
        return None
    counters.incr(LAYER, kind, "hit")
    counters.maybe_flush(client)
    return body


def store(scope: str, digest: str, kind: str, body: str | bytes, recording: Recording) -> bool:
    """Keep an answer (call only for a successful query answer computed under `recording`)."""
    if not recording.cacheable or not recording.versions:
        counters.incr(LAYER, kind, "uncacheable")
        return False
    client = redis_client()
    if client is None:
        return False
    deps = json.dumps([[namespace_key(ns), token] for ns, token in sorted(recording.versions.items())])
    key = result_key(scope, digest)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hset(key, mapping={"deps": deps, "body": body})
        pipe.expire(key, value_ttl())
        pipe.execute()
    except REDIS_ERRORS as exc:
        report_failure(exc, "result write")
        counters.incr(LAYER, kind, "error")
        return False
    counters.incr(LAYER, kind, "miss")
    return True
