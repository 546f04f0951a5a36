"""`/metrics/` access rules, shared by every service (common.testing.metrics_access), run against this one."""

from common.testing.metrics_access import (  # noqa: F401 - collected by pytest from this module
    pytestmark,
    test_metrics_are_hidden_in_production_without_a_token,
    test_metrics_exist_in_development,
    test_metrics_need_the_token_when_one_is_set,
)
