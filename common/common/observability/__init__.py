"""Traces (OpenTelemetry) and metrics (Prometheus text format) of every service."""
