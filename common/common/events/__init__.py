"""Event backbone shared by every service: envelope, transactional outbox, relay, consumers.

Install as the Django app "common.events". See docs/events.md for the design and guarantees.
"""
