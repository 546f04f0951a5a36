"""Many clients changing one cart at once never lose an update; version counts every change."""

from __future__ import annotations

import json
import threading

import pytest
from cart import commands, queries, store

THREADS = 20
ADDS_EACH = 5


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_adding_to_one_cart_lose_nothing(product):
    lamp, desk = product(stock_quantity=1000), product(stock_quantity=1000)
    first = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def shopper(index: int) -> None:
        try:
            start.wait()
            for _ in range(ADDS_EACH):
                commands.add_to_cart(cart_id=first.id, user_id=None, product_id=lamp if index % 2 else desk,
                                     quantity=1)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=shopper, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
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
