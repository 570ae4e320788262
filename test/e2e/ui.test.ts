// The Temporal Web UI, checked in a real browser (Debian's chromium through playwright-core): the
// workflow list filtered by SourceId finds a test source's records; a record's page shows its
// summary (source, seq, payload digest) and its five stage activities completed; a record waiting
// behind a failing stage answers its `state` query with what it waits for. Screenshots go to
// test-artifacts/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { canonicalJson, contentHash } from '../../src/stages/work';
import { recordWorkflowId, STAGES } from '../../src/contracts/names';
import { uniqueSource } from '../helpers/records';
import { api, sharedSystem, submit, waitFor, type SharedSystem } from '../helpers/system';

jest.setTimeout(300_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

let sys: SharedSystem;
let browser: Browser;
let page: Page;

/** The text of the page and of every frame in it (the UI renders metadata in frames of its own). */
async function pageText(): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((f) =>
      f
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}
let ui: string;
const source = uniqueSource('ui');
const payloads = [1, 2, 3].map((i) => ({ amount: i * 10.5, customer: `c${i}` }));

beforeAll(async () => {
  // Not a skip: without the browser this check has not run, and that must show as a failure.
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // The shared system serves the Web UI on a port of its own.
  sys = await sharedSystem();
  ui = `http://127.0.0.1:${sys.env.TEMPORAL_UI_PORT}`;
  const res = await submit(
    sys.url,
    source,
    payloads.map((payload, i) => ({ id: `ui-${i + 1}`, payload })),
  );
  expect(res.status).toBe(202);
  await waitFor('3 records delivered', async () => {
    const s = await api<{ watermarks: { delivered: number } }>(`${sys.url}/v1/sources/${source}`, 'GET');
    return s.body.watermarks.delivered === 3;
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
});
afterAll(async () => {
  await browser?.close();
  await sys?.release();
});

const listUrl = (query: string) => `${ui}/namespaces/pipeline-east/workflows?query=${encodeURIComponent(query)}`;

/** Opens the filtered list until it shows `n` rows (visibility is eventually consistent). */
async function openList(query: string, n: number): Promise<void> {
  const rows = page.getByTestId('workflows-summary-configurable-table-row');
  // An empty answer must be the UI saying so, not a page that has not loaded yet.
  const empty = page.getByText(/No Workflows Found|No Results/).first();
  await waitFor(
    `${n} rows for ${query}`,
    async () => {
      await page.goto(listUrl(query));
      await rows
        .first()
        .or(empty)
        .waitFor({ timeout: 10_000 })
        .catch(() => undefined);
      return n === 0 ? (await empty.isVisible()) && (await rows.count()) === 0 : (await rows.count()) === n;
    },
    60_000,
    1000,
  );
}

describe('the Temporal UI in a real browser', () => {
  it("serves each Temporal server's UI: one for both regions on one server, one per region on two (west's on the next port)", async () => {
    const { servers } = (await api<{ servers: { region: string; address: string }[] }>(`${sys.url}/v1/admin/regions`, 'GET')).body;
    const uis = new Set(servers.map((s) => s.address)).size > 1 ? ['east', 'west'] : ['east'];
    for (const [i, region] of uis.entries()) {
      const res = await fetch(`http://127.0.0.1:${Number(sys.env.TEMPORAL_UI_PORT) + i}/api/v1/namespaces/pipeline-${region}`);
      expect({ region, status: res.status }).toEqual({ region, status: 200 });
      expect(await res.json()).toMatchObject({ namespaceInfo: { name: `pipeline-${region}` } });
    }
  });

  it('lists the records of a source filtered by SourceId, all completed', async () => {
    await openList(`SourceId="${source}"`, 3);
    const rows = page.getByTestId('workflows-summary-configurable-table-row');
    for (let seq = 1; seq <= 3; seq++) {
      const row = rows.filter({ hasText: recordWorkflowId(source, seq) });
      await expect(row.count()).resolves.toBe(1);
      expect(await row.innerText()).toMatch(/Completed[\s\S]*recordWorkflow/);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-workflows.png') });
    // The Stage attribute ends as `delivered`: the filter operators use for finished records.
    await openList(`SourceId="${source}" AND Stage="delivered"`, 3);
    await openList(`SourceId="${source}" AND ExecutionStatus="Running"`, 0);
    await openList(`SourceId="${source}" AND RecordSeq >= 2`, 2);
  });

  it('opens a record: its five stage activities completed, in order, and its summary', async () => {
    await openList(`SourceId="${source}"`, 3);
    const id = recordWorkflowId(source, 2);
    await page.getByRole('link', { name: id, exact: true }).click();
    await page.getByTestId('workflow-id-heading').filter({ hasText: id }).waitFor();
    const body = page.locator('body');
    // Each stage's activity completes once with outcome "done"; a first attempt may also complete
    // as "waiting" when its predecessor was not through the stage yet (the gate), so count "done".
    const done = async () => (await body.innerText()).split('{"outcome":"done"').length - 1;
    await waitFor('five completed stage activities', async () => (await done()) === 5, 30_000).catch(async (err: Error) => {
      // Keep what the browser saw for whoever reads the failure.
      await page.screenshot({ path: path.join(ARTIFACTS, 'ui-record-failure.png'), fullPage: true });
      fs.writeFileSync(path.join(ARTIFACTS, 'ui-record-failure.txt'), await body.innerText());
      throw new Error(`${err.message}; the page is in test-artifacts/ui-record-failure.{png,txt}`);
    });
    const text = await body.innerText();
    expect(text).toMatch(/Completed\s+record:/);
    expect(text.split('Activity Task Completed').length - 1).toBeGreaterThanOrEqual(5);
    // The history lists newest first: the activity types, read bottom-up, are the stages in order.
    const types = [...text.matchAll(/Activity Type\s+(\w+)/g)].map((m) => m[1]).reverse();
    expect(types.filter((t, i) => t !== types[i - 1])).toEqual([...STAGES]);
    // Activity summaries name the stage and the record (shown on the timeline).
    for (const stage of STAGES) expect(text).toContain(`${stage} • ${stage} ${source}#2`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-record.png'), fullPage: true });

    // User Metadata: the record's summary and details (rendered in a frame of their own), and every
    // stage activity, by its summary, completed.
    await page.getByTestId('user-metadata-tab').click();
    const digest = contentHash(canonicalJson(payloads[1])).slice(0, 12);
    await waitFor(
      'the summary and details',
      async () => {
        const t = await pageText();
        return t.includes(`${source} #2 · payload ${digest}`) && t.includes('client id ui-2');
      },
      15_000,
    );
    const metadata = await pageText();
    expect(metadata).toContain(`payload sha256 ${contentHash(canonicalJson(payloads[1]))}`);
    for (const stage of STAGES) expect(metadata).toMatch(new RegExp(`${stage} ${source}#2\\s+Completed`));
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-record-metadata.png') });
  });

  it("shows a waiting record's gate state through its query", async () => {
    // core's dependency fails: record 1 retries at core, record 2 waits for it there.
    const waiting = uniqueSource('ui-wait');
    expect((await api(`${sys.url}/v1/admin/faults`, 'POST', { region: 'east', stage: 'core', action: 'fail' })).status).toBe(200);
    try {
      expect(
        (
          await submit(
            sys.url,
            waiting,
            payloads.slice(0, 2).map((payload, i) => ({ id: `w${i + 1}`, payload })),
          )
        ).status,
      ).toBe(202);
      await waitFor('both records through preprocess', async () => {
        const s = await api<{ watermarks: { preprocess: number } }>(`${sys.url}/v1/sources/${waiting}`, 'GET');
        return s.body.watermarks.preprocess === 2;
      });
      const id = recordWorkflowId(waiting, 2);
      await page.goto(`${ui}/namespaces/pipeline-east/workflows/${encodeURIComponent(id)}`);
      await page.getByTestId('workflow-id-heading').filter({ hasText: id }).waitFor();
      // Current Details (User Metadata tab): the workflow's own words (setCurrentDetails), rendered
      // from Markdown. Record 2 first waits inside its core activity (up to GATE_WAIT_MS, shown as
      // running core), then registers and waits for the signal; the tab shows what it was at load.
      const details = `the ordering gate holds ${waiting} #2 until record #1 of ${waiting} has finished core`;
      const reloaded = async () => {
        await page.reload();
        await page.getByTestId('user-metadata-tab').click();
        await page.getByText('Current Details').first().waitFor();
        return pageText();
      };
      await waitFor('Current Details', async () => (await reloaded()).includes(details), 30_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; the page says:\n${(await pageText()).slice(0, 3000)}`);
      });
      expect(await pageText()).not.toContain('No Current Details');
      expect(await pageText()).toMatch(/Waiting at core\s*\(stage 3 of 5\)/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'ui-current-details.png') });
      await page.getByTestId('queries-tab').click();
      // `state` is the record workflow's only query: the UI preselects it.
      await page.getByRole('button', { name: 'Run Query' }).click();
      const answer = async () => {
        const t = await pageText();
        const after = t.slice(t.indexOf('JSON Formatting'));
        return after.includes('"phase"')
          ? (JSON.parse(after.slice(after.indexOf('{'), after.lastIndexOf('}') + 1)) as Record<string, unknown>)
          : undefined;
      };
      const state = await waitFor('the state query answered', answer, 20_000);
      expect(state).toMatchObject({
        sourceId: waiting,
        seq: 2,
        phase: 'waiting',
        stage: 'core',
        waitingFor: { seq: 1, stage: 'core' },
        blocked: null,
      });
      await page.screenshot({ path: path.join(ARTIFACTS, 'ui-query.png') });
    } finally {
      await api(`${sys.url}/v1/admin/faults`, 'POST', { region: 'east', stage: 'core', action: 'recover' });
    }
    await waitFor('both delivered after recover', async () => {
      const s = await api<{ watermarks: { delivered: number } }>(`${sys.url}/v1/sources/${waiting}`, 'GET');
      return s.body.watermarks.delivered === 2;
    });
  });
});
