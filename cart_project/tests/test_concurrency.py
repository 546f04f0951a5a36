"""Many clients changing one cart at once never lose an update; version counts every change."""

from __future__ import annotations

import json

import pytest
from cart import commands, queries, store
from common.testing.threads import run_concurrently

THREADS = 20
ADDS_EACH = 5


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_adding_to_one_cart_lose_nothing(product):
    lamp, desk = product(stock_quantity=1000), product(stock_quantity=1000)
    first = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)

    def shopper(index: int) -> None:
        for _ in range(ADDS_EACH):
            commands.add_to_cart(cart_id=first.id, user_id=None, product_id=lamp if index % 2 else desk, quantity=1)

    results = run_concurrently([lambda i=i: shopper(i) for i in range(THREADS)], timeout=60)
    assert not [r for r in results if isinstance(r, BaseException)], results
    cart = queries.get_cart(first.id)
    half = THREADS // 2 * ADDS_EACH
    assert {line.product_id: line.quantity for line in cart.items} == {lamp: 1 + half, desk: half}
    assert cart.version == 1 + THREADS * ADDS_EACH
    # One event per change, versions 1..101 each exactly once.
    versions = sorted(
        json.loads(fields["envelope"])["payload"]["version"]
        for _, fields in store.client().xrange(store.outbox_stream())
    )
    assert versions == list(range(1, 2 + THREADS * ADDS_EACH))
