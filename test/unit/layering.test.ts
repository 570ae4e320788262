// The layering is enforced by lint: a wrong-direction import is an error of `npm run lint`.
// Lints small snippets with the project's own eslint.config.js, as if they were the content of a
// file in each folder (a real file, so the type-aware parser finds it in tsconfig.json; only the
// text given here is linted, the file on disk is not read or changed).
import fs from 'node:fs';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');
const RULE = '@typescript-eslint/no-restricted-imports';

// One existing file per folder: its path decides which folder's rules apply.
const FILE = {
  contracts: 'src/contracts/names.ts',
  workflows: 'src/workflows/record.ts',
  db: 'src/db/pool.ts',
  api: 'src/api/schemas.ts',
  apiRoutes: 'src/api/routes/records.ts',
  activities: 'src/activities/stage.ts',
  temporal: 'src/temporal/clients.ts',
  workers: 'src/workers/worker.ts',
  cli: 'src/cli/main.ts',
  telemetry: 'src/telemetry/spans.ts',
  control: 'src/control/starter.ts',
} as const;
// On top of every layer, with no rule of its own: the launcher may import any folder.
const LAUNCHER = 'src/launcher/supervisor.ts';
const SCRIPT = 'scripts/chaos.ts';
// What tests and scripts share to run the system (harness/): above the launcher too.
const HARNESS = 'harness/system.ts';

let eslint: ESLint;
beforeAll(() => {
  // The config object itself (no config file lookup: ESLint loads that with a dynamic import(),
  // which jest's module sandbox does not allow); it is the same object `npm run lint` uses.
  eslint = new ESLint({ cwd: ROOT, overrideConfigFile: true, baseConfig: require(path.join(ROOT, 'eslint.config.js')) as Linter.Config[] });
});

async function lint(file: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result.messages;
}

const restricted = (messages: Linter.LintMessage[]) => messages.filter((m) => m.ruleId === RULE && m.severity === 2);

describe('lint enforces the layering', () => {
  it('runs in npm run lint, over the whole tree, with the rule on for every layered folder', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.lint).toMatch(/(^| && )eslint --max-warnings 0 \. && /);
    for (const file of Object.values(FILE)) {
      expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
      expect(await eslint.isPathIgnored(path.join(ROOT, file))).toBe(false);
      const config = (await eslint.calculateConfigForFile(path.join(ROOT, file))) as Linter.Config;
      expect(config.rules?.[RULE]).toBeDefined();
    }
  });

  const wrong: [string, string, string][] = [
    ['db imports a value from activities', FILE.db, "import { runStage } from '../activities/stage-write';\nexport const f = runStage;\n"],
    ['db imports from workflows', FILE.db, "import { recordWorkflow } from '../workflows/record';\nexport const f = recordWorkflow;\n"],
    [
      'db imports even a type from api',
      FILE.db,
      "import type { WorkerControl } from '../api/worker-control';\nexport let c: WorkerControl | undefined;\n",
    ],
    [
      'api imports a value from workflows',
      FILE.api,
      "import { recordWorkflow } from '../workflows/record';\nexport const f = recordWorkflow;\n",
    ],
    [
      'api (a route) imports a value from activities',
      FILE.apiRoutes,
      "import { runStage } from '../../activities/stage-write';\nexport const f = runStage;\n",
    ],
    ['telemetry imports a value from db', FILE.telemetry, "import { createPool } from '../db/pool';\nexport const f = createPool;\n"],
    ['workflows import a value from telemetry', FILE.workflows, "import { inSpan } from '../telemetry/spans';\nexport const f = inSpan;\n"],
    ['workflows import a value from db', FILE.workflows, "import { createPool } from '../db/pool';\nexport const f = createPool;\n"],
    ['workflows import even a type from db', FILE.workflows, "import type { Pool } from '../db/pool';\nexport let p: Pool | undefined;\n"],
    [
      'workflows import a value from activities',
      FILE.workflows,
      "import { runStage } from '../activities/stage-write';\nexport const f = runStage;\n",
    ],
    ['workflows import a Temporal client', FILE.workflows, "import { Client } from '@temporalio/client';\nexport const C = Client;\n"],
    ['workflows import a Node builtin', FILE.workflows, "import fs from 'node:fs';\nexport const f = fs;\n"],
    ['workflows import another package', FILE.workflows, "import { Type } from '@sinclair/typebox';\nexport const T = Type;\n"],
    ['contracts import a type from db', FILE.contracts, "import type { Pool } from '../db/pool';\nexport let p: Pool | undefined;\n"],
    [
      'contracts import from workflows',
      FILE.contracts,
      "import { recordWorkflow } from '../workflows/record';\nexport const f = recordWorkflow;\n",
    ],
    ['contracts import a Node builtin', FILE.contracts, "import { EventEmitter } from 'node:events';\nexport const E = EventEmitter;\n"],
    ['activities import from api', FILE.activities, "import { buildApp } from '../api/app';\nexport const f = buildApp;\n"],
    [
      'activities import from workers',
      FILE.activities,
      "import { WORKFLOW_BUNDLE_PATH } from '../workers/worker';\nexport const f = WORKFLOW_BUNDLE_PATH;\n",
    ],
    ['control imports from api', FILE.control, "import { buildApp } from '../api/app';\nexport const f = buildApp;\n"],
    [
      'control imports even a type from api',
      FILE.control,
      "import type { AppDeps } from '../api/app';\nexport let d: AppDeps | undefined;\n",
    ],
    ['control imports from the launcher', FILE.control, "import { say } from '../launcher/say';\nexport const f = say;\n"],
    [
      'control imports a value from activities',
      FILE.control,
      "import { runStage } from '../activities/stage-write';\nexport const f = runStage;\n",
    ],
    [
      'db imports even a type from control',
      FILE.db,
      "import type { WorkflowStarter } from '../control/starter';\nexport let s: WorkflowStarter | undefined;\n",
    ],
    [
      'temporal imports from control',
      FILE.temporal,
      "import { HealthTally } from '../control/health-tally';\nexport const H = HealthTally;\n",
    ],
    ['temporal imports from api', FILE.temporal, "import { buildApp } from '../api/app';\nexport const f = buildApp;\n"],
    [
      'workers import a value from api',
      FILE.workers,
      "import { NotSupervised } from '../api/worker-control';\nexport const N = NotSupervised;\n",
    ],
    ['the CLI imports a value from api', FILE.cli, "import { buildApp } from '../api/app';\nexport const f = buildApp;\n"],
    [
      'the CLI imports a value from workflows',
      FILE.cli,
      "import { recordWorkflow } from '../workflows/record';\nexport const f = recordWorkflow;\n",
    ],
    ['a re-export the wrong way', FILE.db, "export { runStage } from '../activities/stage-write';\n"],
    ['contracts import from the launcher', FILE.contracts, "import { say } from '../launcher/say';\nexport const f = say;\n"],
    ['workflows import from the launcher', FILE.workflows, "import { say } from '../launcher/say';\nexport const f = say;\n"],
    ['db imports from the launcher', FILE.db, "import { ensurePostgres } from '../launcher/postgres';\nexport const f = ensurePostgres;\n"],
    ['activities import from the launcher', FILE.activities, "import { say } from '../launcher/say';\nexport const f = say;\n"],
    [
      'temporal imports from the launcher',
      FILE.temporal,
      "import { devServerArgs } from '../launcher/dev-server-args';\nexport const f = devServerArgs;\n",
    ],
    [
      'api imports even a type from the launcher',
      FILE.api,
      "import type { AdminToken } from '../launcher/admin-token';\nexport let t: AdminToken | undefined;\n",
    ],
    [
      'workers import from the launcher',
      FILE.workers,
      "import { SupervisedChild } from '../launcher/supervised-child';\nexport const S = SupervisedChild;\n",
    ],
    [
      'the CLI imports from the launcher',
      FILE.cli,
      "import { resolveAdminToken } from '../launcher/admin-token';\nexport const f = resolveAdminToken;\n",
    ],
  ];
  it.each(wrong)('%s: an error', async (_name, file, code) => {
    const errors = restricted(await lint(file, code));
    expect(errors).toHaveLength(1);
  });

  const right: [string, string, string][] = [
    [
      'contracts import ./, @temporalio/workflow and TypeBox',
      FILE.contracts,
      "import { defineSignal } from '@temporalio/workflow';\nimport { Type } from '@sinclair/typebox';\nimport { STAGES } from './names';\nexport const s = defineSignal('x');\nexport const T = Type.Literal(STAGES.length);\n",
    ],
    [
      'workflows import contracts, the SDK and activity types',
      FILE.workflows,
      "import { sleep } from '@temporalio/workflow';\nimport type { StageActivities } from '../activities/stage';\nimport { STAGES } from '../contracts/names';\nexport async function w(a: StageActivities) {\n  await sleep(STAGES.length);\n  return a;\n}\n",
    ],
    [
      'db imports contracts and itself',
      FILE.db,
      "import { STAGES } from '../contracts/names';\nimport { stageTable } from './stages';\nexport const tables = STAGES.map(stageTable);\n",
    ],
    [
      'api imports contracts, db and activity types',
      FILE.apiRoutes,
      "import type { StageResult } from '../../activities/stage-write';\nimport { gateSignal } from '../../contracts/record.messages';\nimport { readWatermarks } from '../../db/stages';\nexport let r: StageResult | undefined;\nexport const g = [gateSignal, readWatermarks];\n",
    ],
    [
      'activities import db and contracts',
      FILE.activities,
      "import { readWatermarks } from '../db/stages';\nimport { FailureType } from '../contracts/failures';\nexport const f = [readWatermarks, FailureType];\n",
    ],
    [
      'api imports control, db and contracts',
      FILE.api,
      "import { WorkflowStarter } from '../control/starter';\nimport { createPool } from '../db/pool';\nimport { STAGES } from '../contracts/names';\nexport const all = [WorkflowStarter, createPool, STAGES];\n",
    ],
    [
      'control imports temporal, db, contracts and activity types',
      FILE.control,
      "import type { StageResult } from '../activities/stage-write';\nimport { gateNotifier } from '../temporal/notifier';\nimport { readWatermarks } from '../db/stages';\nimport { STAGES } from '../contracts/names';\nexport let r: StageResult | undefined;\nexport const all = [gateNotifier, readWatermarks, STAGES];\n",
    ],
    [
      'workers import contracts and API types',
      FILE.workers,
      "import type { WorkerControl } from '../api/worker-control';\nimport { WorkerInfo } from '../contracts/control';\nexport let c: WorkerControl | undefined;\nexport const W = WorkerInfo;\n",
    ],
    [
      'the CLI imports contracts and API types',
      FILE.cli,
      "import type { RecordReply } from '../api/schemas';\nimport { MAX_BATCH } from '../contracts/limits';\nexport let r: RecordReply | undefined;\nexport const m = MAX_BATCH;\n",
    ],
    [
      'the launcher imports control, temporal, db and contracts',
      LAUNCHER,
      "import { WorkflowStarter } from '../control/starter';\nimport { sdkLogger } from '../temporal/sdk-logger';\nimport { waitForServer } from '../temporal/setup';\nimport { createPool } from '../db/pool';\nimport { STAGES } from '../contracts/names';\nexport const all = [WorkflowStarter, sdkLogger, waitForServer, createPool, STAGES];\n",
    ],
    ['scripts import the launcher', SCRIPT, "import { portFree } from '../src/launcher/ports';\nexport const f = portFree;\n"],
    ['the harness imports the launcher', HARNESS, "import { portFree } from '../src/launcher/ports';\nexport const f = portFree;\n"],
  ];
  it.each(right)('%s: no error at all', async (_name, file, code) => {
    expect(await lint(file, code)).toEqual([]);
  });
});
