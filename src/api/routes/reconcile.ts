// The reconciler's last pass, and a pass on demand (admin only: the auth plugin guards /v1/admin).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ReconcileReply } from '../schemas';

export const reconcileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const view = () => {
    const { reconciler } = app;
    return { passes: reconciler.passes, repairedTotal: reconciler.totals, last: reconciler.last ?? null };
  };
  app.get(
    '/v1/admin/reconcile',
    {
      schema: {
        summary: "The reconciler's last pass: records checked, repairs by kind, stalled sources",
        response: { 200: ReconcileReply },
      },
    },
    async () => view(),
  );
  app.post(
    '/v1/admin/reconcile',
    { schema: { summary: 'Run a reconcile pass now (or join the one running) and answer with it', response: { 200: ReconcileReply } } },
    async () => {
      await app.reconciler.runOnce();
      return view();
    },
  );
};
