"""Authentication and authorization shared by every service.

Tokens are issued by the accounts service (RS256, JWKS); every service verifies them itself:
`jwks` (keys), `tokens` (signature, claims and session state), `middleware` (request.auth),
`decorators` (RBAC/PBAC for graphene and ariadne resolvers), `objects` (guardian object
permissions), `backends`/`views` (Django admin single sign-on) and `replica` (the local,
event-fed copy of the users this service needs). See docs/auth.md.
"""
