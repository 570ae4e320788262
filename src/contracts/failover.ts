// The result of a region switch: db/failover.ts returns it and POST /v1/admin/failover answers with
// it as it is, so it is a TypeBox schema with a derived type.
import { Type, type Static } from '@sinclair/typebox';

export const FailoverResult = Type.Object({
  from: Type.String(),
  to: Type.String(),
  epoch: Type.Integer(),
  /** Old-region database sessions ended because they held up the switch (a paused zombie). */
  fencedSessions: Type.Integer(),
});
export type FailoverResult = Static<typeof FailoverResult>;
