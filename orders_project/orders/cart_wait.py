"""Waking placeOrder when the cart replica reaches the version the client saw (LISTEN/NOTIFY).

The consumer's cart handler runs `NOTIFY orders_cart, '<user id>'` (`notify_cart_changed`);
PostgreSQL delivers it when the consumer's transaction commits, so a woken waiter always finds
the new replica row. One listener thread per web process holds a dedicated autocommit
connection (Django's own runs the request's transaction, where notifications would wait until
its end) and sets the events of the threads waiting for that user. Waiters still re-read the
replica every `ORDERS_CART_POLL_SECONDS` (a missed notification, the listener reconnecting), so
a notification only makes the wait shorter, never decides its outcome.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection

logger = logging.getLogger(__name__)

CHANNEL = "orders_cart"
# The listener thread closes its connection after this long without a waiting placement.
IDLE_SECONDS = 60.0


def notify_cart_changed(user_id: Any) -> None:
    """In the handler's transaction: wake the placements waiting for this user's cart, at commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(user_id)])


class CartListener:
    """Per process: LISTEN on the channel in a thread, set the waiting threads' events by user id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = defaultdict(set)
        self._pid: int | None = None  # the process that started the thread (gunicorn forks after import)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_waiter = 0.0
        self.listening = threading.Event()  # set while LISTEN is active

    @contextmanager
    def waiting_for(self, user_id: Any) -> Iterator[threading.Event]:
        """An event set when the user's cart may have changed; register before reading the replica."""
        self._ensure_thread()
        event = threading.Event()
        key = str(user_id)
        with self._lock:
            self._waiters[key].add(event)
        try:
            yield event
        finally:
            with self._lock:
                self._waiters[key].discard(event)
                if not self._waiters[key]:
                    del self._waiters[key]

    def _ensure_thread(self) -> None:
        with self._lock:
            self._last_waiter = time.monotonic()
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._stopping.clear()
            self.listening.clear()
            params = {key: value for key, value in connection.get_connection_params().items()
                      if key not in {"cursor_factory", "context", "prepare_threshold"}}
            self._thread = threading.Thread(target=self._run, args=(params,), name="orders-cart-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Close the listener's connection (tests, before their database is dropped)."""
        self._stopping.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=5)
        self._thread = None

    def _idle(self) -> bool:
        with self._lock:
            if self._waiters or time.monotonic() - self._last_waiter <= IDLE_SECONDS:
                return False
            self._thread = None  # the next waiter starts a new listener
            return True

    def _run(self, params: dict[str, Any]) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._wake_all()  # anything committed while we were not listening
                    while not self._stopping.is_set():
                        for notification in listener.notifies(timeout=1.0):
                            self._wake(notification.payload)
                        if self._idle():
                            return  # no placement waited for a while: give the connection back
            except psycopg.Error as exc:
                logger.warning("orders: cart listener lost its connection (%s); waiters poll meanwhile", exc)
            finally:
                self.listening.clear()
            self._stopping.wait(1.0)  # back off before reconnecting

    def _wake(self, user_id: str) -> None:
        with self._lock:
            for event in self._waiters.get(user_id, ()):
                event.set()

    def _wake_all(self) -> None:
        with self._lock:
            for events in self._waiters.values():
                for event in events:
                    event.set()


listener = CartListener()
