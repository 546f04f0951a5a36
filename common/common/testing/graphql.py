"""GraphQL clients for tests: one over Django's test client (in-process), one over HTTP (httpx).

Both check that every answer is a clean non-5xx and offer the same reading helpers:
`execute` (the JSON body), `data` (asserts no errors), `error` (asserts one, returns the first)
and `code` (the first error's `extensions.code`, None on success).
"""

from __future__ import annotations

from typing import Any


class _Answers:
    def execute(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.execute(query, variables, **kwargs)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def error(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.execute(query, variables, **kwargs)
        assert body.get("errors"), body
        return body["errors"][0]

    def code(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> str | None:
        errors = self.execute(query, variables, **kwargs).get("errors")
        return errors[0]["extensions"]["code"] if errors else None


class GraphQLTestClient(_Answers):
    """POSTs to `path` through a `django.test.Client`; `token` (or `token=` per call) sends a Bearer header.
    Extra keyword arguments are passed to the client as WSGI headers (`HTTP_X_FORWARDED_FOR=...`)."""

    def __init__(self, client: Any, path: str = "/graphql/", token: str | None = None) -> None:
        self.client = client
        self.path = path
        self.token = token
        self.last_response: Any = None

    def as_token(self, token: str | None) -> GraphQLTestClient:
        """The same client (same cookies) sending `Authorization: Bearer <token>` (None: anonymous)."""
        return type(self)(self.client, self.path, token)

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
                **headers: Any) -> dict[str, Any]:
        token = token if token is not None else self.token
        if token:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        response = self.client.post(
            self.path, {"query": query, "variables": variables or {}}, content_type="application/json", **headers
        )
        self.last_response = response
        assert response.status_code < 500, response.content
        return response.json()


class GraphQLHttpClient(_Answers):
    """A GraphQL-over-HTTP client for one URL of a running server (httpx, keep-alive)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, *, timeout: float = 20) -> None:
        import httpx  # a test/dev dependency: imported only where this client is used

        self.url = url
        self.http = httpx.Client(timeout=timeout, headers=headers or {})

    def post(self, query: str | None = None, variables: dict[str, Any] | None = None, *,
             headers: dict[str, str] | None = None, body: Any = None, **kwargs: Any) -> Any:
        """The raw httpx response; `body` replaces the usual {"query", "variables"} payload."""
        payload = body if body is not None else {"query": query, "variables": variables or {}}
        response = self.http.post(self.url, json=payload, headers=headers or {}, **kwargs)
        assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
        return response

    def execute(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        return self.post(query, variables, **kwargs).json()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GraphQLHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
