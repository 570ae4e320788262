// Counts a workflow history's billable Temporal actions (as Temporal Cloud bills them): the start,
// each activity attempt, each signal received, timer, search-attribute upsert, continue-as-new.
// A measuring tool of the bench and the end-to-end tests, not used by the pipeline itself.
import { temporal } from '@temporalio/proto';

const E = temporal.api.enums.v1.EventType;

export interface ActionCount {
  total: number;
  starts: number;
  activityAttempts: number;
  signals: number;
  timers: number;
  upserts: number;
}

export function countActions(history: temporal.api.history.v1.IHistory): ActionCount {
  const c: ActionCount = { total: 0, starts: 0, activityAttempts: 0, signals: 0, timers: 0, upserts: 0 };
  for (const e of history.events ?? []) {
    switch (e.eventType) {
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        c.starts += 1;
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        c.activityAttempts += e.activityTaskStartedEventAttributes?.attempt ?? 1;
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        c.signals += 1;
        break;
      case E.EVENT_TYPE_TIMER_STARTED:
        c.timers += 1;
        break;
      case E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        c.upserts += 1;
        break;
      default:
    }
  }
  c.total = c.starts + c.activityAttempts + c.signals + c.timers + c.upserts;
  return c;
}
