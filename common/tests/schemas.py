"""The same small API in both styles: graphene (code-first) and ariadne (schema-first).

    public          anyone
    me              any signed-in user (its user id)
    managerArea     role catalog_manager (RBAC)
    twoPerms        permissions ownership.add_note AND ownership.change_note (PBAC)
    note(id)        object permission ownership.view_note on that note (guardian)
    addNote(title)  permission ownership.add_note
"""

from __future__ import annotations

from typing import Any

import graphene
from ariadne import MutationType, QueryType, make_executable_schema
from common.auth.decorators import login_required, permission_required, roles_required
from common.auth.objects import require_object_permission
from common.auth.principal import principal_from_info

from tests.ownership.models import Note


def _note(note_id: str) -> Note | None:
    return Note.objects.filter(pk=note_id).first()


# --- graphene -------------------------------------------------------------------------------------


class AddNote(graphene.Mutation):
    class Arguments:
        title = graphene.String(required=True)

    title = graphene.String()

    @classmethod
    @permission_required("ownership.add_note")
    def mutate(cls, root: Any, info: graphene.ResolveInfo, title: str) -> AddNote:
        return AddNote(title=title)


class Query(graphene.ObjectType):
    public = graphene.String()
    me = graphene.String()
    manager_area = graphene.String()
    two_perms = graphene.String()
    note = graphene.String(id=graphene.ID(required=True))

    @staticmethod
    def resolve_public(root: Any, info: graphene.ResolveInfo) -> str:
        return "hello"

    @staticmethod
    @login_required
    def resolve_me(root: Any, info: graphene.ResolveInfo) -> str | None:
        return principal_from_info(info).user_id

    @staticmethod
    @roles_required("catalog_manager")
    def resolve_manager_area(root: Any, info: graphene.ResolveInfo) -> str:
        return "managed"

    # The decorator above @staticmethod works too.
    @permission_required("ownership.add_note", "ownership.change_note")
    @staticmethod
    def resolve_two_perms(root: Any, info: graphene.ResolveInfo) -> str:
        return "both"

    @staticmethod
    def resolve_note(root: Any, info: graphene.ResolveInfo, id: str) -> str | None:
        note = _note(id)
        if note is None:
            return None
        require_object_permission(info, "ownership.view_note", note)
        return note.title


class Mutation(graphene.ObjectType):
    add_note = AddNote.Field()


graphene_schema = graphene.Schema(query=Query, mutation=Mutation)


# --- ariadne --------------------------------------------------------------------------------------

SDL = """
type Query {
  public: String
  me: String
  managerArea: String
  twoPerms: String
  note(id: ID!): String
}
type Mutation {
  addNote(title: String!): AddNotePayload
}
type AddNotePayload { title: String }
"""

query = QueryType()
mutation = MutationType()


@query.field("public")
def ariadne_public(obj: Any, info: Any) -> str:
    return "hello"


@query.field("me")
@login_required
def ariadne_me(obj: Any, info: Any) -> str | None:
    return principal_from_info(info).user_id


@query.field("managerArea")
@roles_required("catalog_manager")
def ariadne_manager_area(obj: Any, info: Any) -> str:
    return "managed"


@query.field("twoPerms")
@permission_required("ownership.add_note", "ownership.change_note")
def ariadne_two_perms(obj: Any, info: Any) -> str:
    return "both"


@query.field("note")
def ariadne_note(obj: Any, info: Any, id: str) -> str | None:
    note = _note(id)
    if note is None:
        return None
    require_object_permission(info, "ownership.view_note", note)
    return note.title


@mutation.field("addNote")
@permission_required("ownership.add_note")
def ariadne_add_note(obj: Any, info: Any, title: str) -> dict[str, str]:
    return {"title": title}


ariadne_schema = make_executable_schema(SDL, query, mutation)
