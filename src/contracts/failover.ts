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

/** A region as the router sees it: GET /v1/admin/regions and the failover decision both read it. */
export const RegionHealth = Type.Object({
  name: Type.String(),
  namespace: Type.String(),
  address: Type.String(),
  active: Type.Boolean(),
  healthy: Type.Boolean(),
  reason: Type.Optional(Type.String()),
  pollers: Type.Record(Type.String(), Type.Integer()),
});
export type RegionHealth = Static<typeof RegionHealth>;
