// Temporal's own OpenTelemetry interceptors, when tracing is on: the client's (a workflow start or
// signal carries the caller's context in its headers), the activity worker's (RunActivity spans
// under the workflow's StartActivity), and the sink through which the workflow isolate's spans
// reach this process's exporter. When tracing is off they are neither loaded nor installed.
import type { ClientInterceptors } from '@temporalio/client';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { tracing } from './tracing';

export function tracingClientInterceptors(): ClientInterceptors | undefined {
  if (!tracing()) return undefined;
  const { OpenTelemetryWorkflowClientInterceptor } =
    require('@temporalio/interceptors-opentelemetry/lib/client') as typeof import('@temporalio/interceptors-opentelemetry/lib/client');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

export function tracingActivityInterceptors(): WorkerInterceptors['activity'] {
  if (!tracing()) return undefined;
  const { OpenTelemetryActivityInboundInterceptor } =
    require('@temporalio/interceptors-opentelemetry/lib/worker') as typeof import('@temporalio/interceptors-opentelemetry/lib/worker');
  return [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })];
}

/** The workflow span exporter sink, feeding the process's span processor. */
export function tracingWorkflowSinks(): InjectedSinks<OpenTelemetrySinks> | undefined {
  const sdk = tracing();
  if (!sdk) return undefined;
  const { makeWorkflowExporter } =
    require('@temporalio/interceptors-opentelemetry/lib/worker') as typeof import('@temporalio/interceptors-opentelemetry/lib/worker');
  return { exporter: makeWorkflowExporter(sdk.processor, sdk.resource) };
}
