"""Caching shared by every service: Redis settings, versioned namespaces, a read-through
helper with stampede protection, graceful degradation and hit/miss counters.

Import from the submodules (`common.cache.readthrough`, `common.cache.namespaces`, ...):
this package is also imported while settings load, so it imports nothing itself.
"""
