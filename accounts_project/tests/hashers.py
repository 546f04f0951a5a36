"""Argon2 with test-sized cost: the same algorithm and hash format, a fraction of the CPU time.

Production cost (Django's defaults: 100 MiB, 2 passes) makes each hash ~0.25 s on this machine;
tests hash hundreds of times. test_operations checks the real settings still put Argon2 first.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024
    parallelism = 1
