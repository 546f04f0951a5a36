from cart import store


def redis_check() -> None:
    store.client().ping()
