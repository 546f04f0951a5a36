"""Client errors specific to accounts (the shared ones live in common.graphql.errors)."""

from __future__ import annotations

from common.graphql.errors import ClientError

RATE_LIMITED = "RATE_LIMITED"


class RateLimited(ClientError):
    """Too many attempts; `extensions.retryAfter` says how many seconds to wait."""

    code = RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=int(retry_after))
