// The reconciler's last pass, and a pass on demand (admin only: the auth plugin guards /v1/admin).
// Passes run in the control role's holder and are recorded in Postgres, so every replica shows the
// same; a pass asked of a replica that does not hold the role is handed to the holder there.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { setTimeout as sleep } from 'node:timers/promises';
import { requestReconcile } from '../../db/control-lease';
import { reconcilerView } from '../../control/reconciler';
import { ApiError } from '../errors';
import { ErrorBody, ReconcileReply } from '../schemas';

/** How long a replica without the role waits for the holder's pass. */
const HAND_OFF_TIMEOUT_MS = 60_000;

export const reconcileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const stored = () => reconcilerView(app.pool);
  app.get(
    '/v1/admin/reconcile',
    {
      schema: {
        summary: "The reconciler's last pass: records checked, repairs by kind, stalled sources",
        response: { 200: ReconcileReply },
      },
    },
    async () => stored(),
  );
  app.post(
    '/v1/admin/reconcile',
    {
      schema: {
        summary: 'Run a reconcile pass now (or join the one running) and answer with it; through any replica',
        response: { 200: ReconcileReply, 503: ErrorBody },
      },
    },
    async () => {
      if (app.controlLease?.held()) {
        await app.reconciler.runOnce();
        return app.reconciler.view();
      }
      const n = await requestReconcile(app.pool);
      const deadline = Date.now() + HAND_OFF_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const view = await stored();
        if (view.requestsServed >= n) return view;
        await sleep(200);
      }
      throw new ApiError(
        503,
        'control_unavailable',
        `no reconcile pass within ${HAND_OFF_TIMEOUT_MS / 1000} s: no process holds the control role, or its pass did not finish (see GET /v1/admin/regions, control)`,
        undefined,
        { 'retry-after': '5' },
      );
    },
  );
};
