// A record's trace: the W3C traceparent stored with it, the spans this project writes itself (where
// no instrumentation library knows the operation), and the record's attributes. Only the
// OpenTelemetry API is used here: without a started SDK every call is a cheap no-op.
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Link } from '@opentelemetry/api';

import { tracing } from './tracing';

const tracer = () => trace.getTracer('record-pipeline');

/** The record's key and placement as span attributes (the same names on every span). */
export function recordAttributes(r: {
  sourceId: string;
  seq: number;
  stage?: string;
  region?: string | null;
  epoch?: number | null;
}): Attributes {
  const attrs: Attributes = { 'pipeline.source_id': r.sourceId, 'pipeline.seq': r.seq };
  if (r.stage) attrs['pipeline.stage'] = r.stage;
  if (r.region) attrs['pipeline.region'] = r.region;
  if (r.epoch !== undefined && r.epoch !== null) attrs['pipeline.epoch'] = r.epoch;
  return attrs;
}

/** The traceparent of a context (the active one by default), or null if it holds no sampled span. */
export function traceparentOf(ctx: Context = context.active()): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? null;
}

/** The trace id inside a stored traceparent (`00-<trace id>-<span id>-<flags>`). */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  const id = traceparent?.split('-')[1];
  return id && /^[0-9a-f]{32}$/.test(id) ? id : null;
}

/** The context a stored traceparent names (the root context when there is none). */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** The active span's trace and span ids, for log lines (empty outside a span). */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** Adds the record's attributes to the span running now (e.g. the activity's RunActivity span). */
export function tagActiveSpan(attrs: Attributes): void {
  if (!tracing()) return;
  trace.getActiveSpan()?.setAttributes(attrs);
}

/**
 * The trace each new record of a submit joins (undefined when tracing is off), given its seq: a
 * one-record submit joins the request's trace; in a batch each record gets a trace of its own, a
 * root span `record accepted` that ends at once and links to the request span.
 */
export function submitTraces(sourceId: string, batchSize: number): ((seq: number) => string | null) | undefined {
  if (!tracing()) return undefined;
  const request = context.active();
  const requestSpan = trace.getSpan(request);
  if (batchSize === 1) {
    return (seq) => {
      requestSpan?.setAttributes(recordAttributes({ sourceId, seq }));
      return traceparentOf(request);
    };
  }
  const sc = requestSpan?.spanContext();
  const links: Link[] = sc && trace.isSpanContextValid(sc) ? [{ context: sc }] : [];
  return (seq) => {
    const span = tracer().startSpan('record accepted', { root: true, attributes: recordAttributes({ sourceId, seq }), links });
    span.end();
    return traceparentOf(trace.setSpan(ROOT_CONTEXT, span));
  };
}

/**
 * Runs a workflow start in the record's trace: a span under its stored traceparent or, without
 * one (accepted while tracing was off), the root of a new trace; Temporal's client interceptor
 * puts the StartWorkflow span under it and carries it in the workflow's headers.
 */
export function inRecordTrace<T>(traceparent: string | null | undefined, attrs: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracing()) return fn();
  return inSpan('start workflow', attrs, fn, contextOf(traceparent));
}

/** Runs fn in a span, child of `parent` (the active context by default); ends it with fn's outcome. */
export async function inSpan<T>(name: string, attrs: Attributes, fn: () => Promise<T>, parent: Context = context.active()): Promise<T> {
  if (!tracing()) return fn();
  return tracer().startActiveSpan(name, { attributes: attrs }, parent, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
