// Who holds the control role, as /v1/stats, /metrics and GET /v1/admin/regions show it: a TypeBox
// schema with a derived type.
import { Type, type Static } from '@sinclair/typebox';

export const ControlView = Type.Object({
  role: Type.Union([Type.Literal('on'), Type.Literal('off')], { description: 'whether this process competes for the role (CONTROL)' }),
  self: Type.Boolean({ description: 'this process holds the role now' }),
  holder: Type.Union([Type.String(), Type.Null()], { description: 'the process that holds (or last held) the lease: host:pid' }),
  live: Type.Boolean({ description: 'the lease has not expired (by the database clock)' }),
  token: Type.Integer({ description: 'the fencing token: grows with every new holding' }),
  since: Type.Union([Type.String(), Type.Null()], { description: 'when the holder took it' }),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});
export type ControlView = Static<typeof ControlView>;
