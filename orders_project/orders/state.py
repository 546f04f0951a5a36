"""The order state machine: every legal transition, in one table.

    PENDING --reserve--> CONFIRMED --pay--> PAID --ship--> SHIPPED --deliver--> DELIVERED
       |  \\--reject/expire--> REJECTED
       \\----cancel (owner, staff)----> CANCELLED <--cancel (staff)-- PAID
                          CONFIRMED --cancel (owner, staff)--^

Commands ask `transition_for(action, current, roles)`; anything not listed for those roles is
refused with a CONFLICT naming the current status (who may call a mutation at all is checked at
the edge with the orders permissions; this table says from which status, for whom).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from common.errors import Conflict

from orders.models import OrderStatus


class Role(StrEnum):
    OWNER = "owner"  # the customer who placed the order
    STAFF = "staff"  # holds orders.change_order_status
    SYSTEM = "system"  # the saga (catalog replies) and the expiry job


class Action(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    EXPIRE = "expire"
    CANCEL = "cancel"
    PAY = "pay"
    SHIP = "ship"
    DELIVER = "deliver"


@dataclass(frozen=True)
class Transition:
    action: Action
    source: OrderStatus
    target: OrderStatus
    roles: frozenset[Role]


def _t(action: Action, source: OrderStatus, target: OrderStatus, *roles: Role) -> Transition:
    return Transition(action, source, target, frozenset(roles))


S = OrderStatus
TRANSITIONS: tuple[Transition, ...] = (
    _t(Action.CONFIRM, S.PENDING, S.CONFIRMED, Role.SYSTEM),
    _t(Action.REJECT, S.PENDING, S.REJECTED, Role.SYSTEM),
    _t(Action.EXPIRE, S.PENDING, S.REJECTED, Role.SYSTEM),
    _t(Action.CANCEL, S.PENDING, S.CANCELLED, Role.OWNER, Role.STAFF),
    _t(Action.CANCEL, S.CONFIRMED, S.CANCELLED, Role.OWNER, Role.STAFF),
    _t(Action.CANCEL, S.PAID, S.CANCELLED, Role.STAFF),
    _t(Action.PAY, S.CONFIRMED, S.PAID, Role.OWNER),
    _t(Action.SHIP, S.PAID, S.SHIPPED, Role.STAFF),
    _t(Action.DELIVER, S.SHIPPED, S.DELIVERED, Role.STAFF),
)

_BY_KEY = {(t.action, t.source): t for t in TRANSITIONS}

TERMINAL = frozenset({S.DELIVERED, S.CANCELLED, S.REJECTED})


def transition_for(action: Action, current: str, roles: set[Role] | frozenset[Role]) -> Transition:
    """The transition `action` makes from `current` for a caller holding `roles`, or CONFLICT."""
    transition = _BY_KEY.get((action, OrderStatus(current)))
    if transition is None or transition.roles.isdisjoint(roles):
        allowed = sorted(t.source.value for t in TRANSITIONS if t.action == action and not t.roles.isdisjoint(roles))
        raise Conflict(
            f"Cannot {action.value} an order that is {current}.",
            current_status=str(current),
            action=action.value,
            allowed_from=allowed,
        )
    return transition


def legal_actions(current: str, roles: set[Role] | frozenset[Role]) -> list[Action]:
    return [t.action for t in TRANSITIONS if t.source == current and not t.roles.isdisjoint(roles)]
