"""GraphiQL served from the service itself (no CDN): the page works on a machine without internet.

A Django app (in SHARED_APPS): `templates/graphiql/graphiql.html` loads the vendored npm dist files in
`static/graphiql/` (see README.md for packages and versions) and graphene-django's own start script.
The graphene view uses the template directly (`graphiql_template`); the ariadne view calls `render_graphiql`.
In development runserver/WhiteNoise serve the files from the app; in production `collectstatic` + WhiteNoise
(GraphiQL itself is off in production).
"""

from __future__ import annotations

from typing import Any

TEMPLATE = "graphiql/graphiql.html"


def render_graphiql(request: Any, *, title: str = "GraphiQL") -> Any:
    """The GraphiQL page for the GraphQL endpoint at the request's URL."""
    from django.shortcuts import render
    from graphene_django.settings import graphene_settings

    return render(request, TEMPLATE, {
        "title": title,
        "graphiql_header_editor_enabled": graphene_settings.GRAPHIQL_HEADER_EDITOR_ENABLED,
        "graphiql_should_persist_headers": graphene_settings.GRAPHIQL_SHOULD_PERSIST_HEADERS,
        "graphiql_input_value_deprecation": graphene_settings.GRAPHIQL_INPUT_VALUE_DEPRECATION,
    })
