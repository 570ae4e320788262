// After the run: stop the shared system and drop its databases, then the template (see test/global-setup.ts).
import { dropDatabase } from '../harness/scratch-db';
import { stopSharedSystem } from '../harness/shared-system';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) return;
  if (process.env.HARNESS_SHARED_DIR) await stopSharedSystem(process.env.HARNESS_SHARED_DIR, serverUrl);
  if (process.env.TEST_TEMPLATE_DB) await dropDatabase(serverUrl, process.env.TEST_TEMPLATE_DB);
}
