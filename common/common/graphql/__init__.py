"""GraphQL helpers shared by code-first (graphene) and schema-first (ariadne) services."""
