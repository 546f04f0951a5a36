// OpenTelemetry traces of the gateway (Hive Gateway's OpenTelemetry plugin), off by default.
// On when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) names a collector
// (OTLP over HTTP; the exporter reads the standard OTEL_* variables itself). The plugin continues a
// client's `traceparent`, and sends the trace context on to the subgraphs, whose Django
// instrumentation continues the same trace (common/common/observability/tracing.py).
import { openTelemetrySetup } from '@graphql-hive/gateway/opentelemetry/setup';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

export function tracingEnabled(env = process.env) {
  if ((env.OTEL_SDK_DISABLED || '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER || '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Installs the tracer provider once; returns the gateway's `openTelemetry` option (or undefined when off). */
export function setupTracing(env = process.env) {
  if (!tracingEnabled(env)) return undefined;
  openTelemetrySetup({
    contextManager: new AsyncLocalStorageContextManager(),
    resource: { serviceName: env.OTEL_SERVICE_NAME || 'gateway' },
    traces: { exporter: new OTLPTraceExporter() },
  });
  return { traces: true, propagateContext: true };
}
