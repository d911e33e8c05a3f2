/**
 * OpenTelemetry tracing: HTTP requests, GraphQL execution, commits and publishes. Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (then spans go out over OTLP/HTTP, which Jaeger and
 * the OpenTelemetry Collector read) or a test registers its own provider. Without a
 * provider, @opentelemetry/api hands out no-op spans, so the calls below cost nearly nothing.
 */
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';

export const tracer = trace.getTracer('dashboards-api');

/** Runs `fn` in an active span (children nest under it), ending it however `fn` ends. */
export async function traced<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Registers a global tracer provider exporting over OTLP/HTTP when `endpoint` is set.
 * Returns a function that flushes and shuts it down, or null when tracing stays off.
 */
export async function startTracing(
  endpoint: string | undefined,
  serviceName = 'dashboards-api',
): Promise<(() => Promise<void>) | null> {
  if (!endpoint) return null;
  const { NodeTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const provider = new NodeTracerProvider({
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` })),
    ],
  });
  provider.register();
  void serviceName; // the SDK reads OTEL_SERVICE_NAME from the environment
  return () => provider.shutdown();
}
