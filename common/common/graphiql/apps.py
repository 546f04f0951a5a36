from django.apps import AppConfig


class GraphiQLConfig(AppConfig):
    name = "common.graphiql"
    label = "common_graphiql"
    verbose_name = "GraphiQL (local assets)"
