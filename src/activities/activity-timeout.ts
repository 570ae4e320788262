import { Context } from '@temporalio/activity';

/** The running activity's start-to-close timeout (outside an activity, as in some tests: none). */
export function activityTimeoutMs(): number {
  try {
    return Context.current().info.startToCloseTimeoutMs || Infinity;
  } catch {
    return Infinity;
  }
}
