// Lint: correctness rules with type information, determinism of workflow code, and the layering
// (which folder may import which) enforced here rather than by memory.
const globals = require('globals');
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

// The layering, top to bottom: launcher (npm start, local only) -> api, workers, cli -> control (the
// leased control role, run by api) -> activities -> temporal, db, stages -> contracts; telemetry (tracing setup and spans) sits beside contracts at
// the bottom but does I/O, so workflow code may not import it. Workflows import values from contracts
// alone (types from activities), and no folder imports them: the workflow worker loads their bundle.
// A folder imports from its own level or below; `allowTypeImports` marks where a type-only import is
// harmless (erased at build time, nothing runs). The rules below name the wrong-way imports lint
// refuses: stages and the files at the top of src have no rule of their own, and temporal's rule
// keeps it below api, workers, cli and the launcher only. The launcher, on top, may import any
// folder, and only scripts, the harness and tests import it: what production runs (the API, the
// workers, the CLI) never loads the local launcher's code.
const RULE = '@typescript-eslint/no-restricted-imports';
const alt = (names) => names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');
/** A relative import of one of these src folders, from any depth. */
const folders = (...names) => `^(\\.\\./)+(${alt(names)})(/|$)`;
/** Any import except these: `exact` names and the packages they prefix. */
const except = (...allowed) => `^(?!(${allowed.join('|')}))`;
const BUILTINS = `(node:)?(${alt(builtinModules)})(/|$)`;
const IO_PACKAGES = `(${alt(['pg', 'pino', 'pino-pretty', 'fastify', '@fastify', '@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'])})(/|$)`;
const IO_FOLDERS = `(\\.\\./)+(${alt(['db', 'api', 'control', 'temporal', 'stages', 'workers', 'cli', 'launcher', 'telemetry'])})(/|$)`;

const layer = (files, ...patterns) => ({ files, rules: { [RULE]: ['error', { patterns }] } });
/** Not even a type from the launcher: production code has no reason to know it. */
const NO_LAUNCHER = {
  regex: folders('launcher'),
  message: "launcher/ is npm start's local launcher, on top of every layer: only scripts, the harness and tests import it",
};

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', 'test-artifacts/**'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        // Types from the tsconfig.json that includes a file; the JS config files, which none includes,
        // get TypeScript's default project (allowDefaultProject takes no ** globs, hence the list).
        projectService: { allowDefaultProject: ['*.js', 'test/*.js'] },
        tsconfigRootDir: __dirname,
      },
    },
    rules: {
      // A modest type-checked set: promises that are dropped, awaited when they are not one, or
      // passed where nothing awaits them; and type assertions the compiler already knows.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // eslint.config.js, jest.config.js, test/summary-reporter.js: CommonJS run by Node.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  layer(['src/contracts/**/*.ts'], {
    regex: except('\\./', '@temporalio/workflow(/|$)', '@temporalio/common(/|$)', '@sinclair/typebox(/|$)'),
    message:
      'contracts are the bottom layer and run inside workflow code: import only ./, @temporalio/workflow, @temporalio/common and @sinclair/typebox',
  }),
  {
    ...layer(
      ['src/workflows/**/*.ts'],
      { regex: `^${BUILTINS}`, message: 'workflow code must be deterministic: no Node builtins' },
      {
        regex: `^(${IO_PACKAGES}|${IO_FOLDERS})`,
        message: 'workflow code does no I/O: it imports values only from @temporalio/workflow, @temporalio/common, ../contracts and ./',
      },
      {
        regex: except(
          '\\./',
          '\\.\\./contracts/',
          '@temporalio/workflow(/|$)',
          '@temporalio/common(/|$)',
          BUILTINS,
          IO_PACKAGES,
          IO_FOLDERS,
        ),
        allowTypeImports: true,
        message:
          'workflow code imports values only from @temporalio/workflow, @temporalio/common, ../contracts and ./ (types, e.g. of activities, with `import type`)',
      },
    ),
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' },
        { name: 'setInterval', message: 'use sleep()' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'use workflow time' },
        { object: 'Math', property: 'random', message: 'not deterministic' },
      ],
    },
  },
  layer(['src/db/**/*.ts'], {
    regex: folders('api', 'control', 'activities', 'workflows', 'workers', 'cli', 'launcher'),
    message: 'db/ is below launcher, api, control, workers, cli, activities and workflows: it imports none of them',
  }),
  layer(['src/telemetry/**/*.ts'], {
    regex: folders('api', 'control', 'workers', 'cli', 'launcher', 'db', 'temporal', 'activities', 'workflows', 'stages'),
    message: 'telemetry/ is at the bottom, beside contracts: every layer but workflows may import it, and it imports none of them',
  }),
  layer(['src/temporal/**/*.ts'], {
    regex: folders('api', 'control', 'workers', 'cli', 'launcher'),
    message: 'temporal/ is below launcher, api, control, workers and cli: it imports none of them',
  }),
  layer(['src/activities/**/*.ts'], {
    regex: folders('api', 'control', 'workers', 'cli', 'launcher'),
    message: 'activities/ are below launcher, api, control, workers and cli: they import none of them',
  }),
  layer(
    ['src/control/**/*.ts'],
    {
      regex: folders('api', 'workers', 'cli'),
      message: 'control/ is below api (which runs and calls it) and beside workers: it imports none of api/, workers/ or cli/',
    },
    {
      regex: folders('activities', 'workflows'),
      allowTypeImports: true,
      message:
        'control/ imports no values from activities/ or workflows/: shared definitions live in contracts/ (types with `import type`)',
    },
    NO_LAUNCHER,
  ),
  layer(
    ['src/api/**/*.ts'],
    {
      regex: folders('activities', 'workflows'),
      allowTypeImports: true,
      message:
        'api/ imports no values from activities/ or workflows/: shared definitions live in contracts/, queries in db/ (types with `import type`)',
    },
    NO_LAUNCHER,
  ),
  layer(
    ['src/workers/**/*.ts'],
    {
      regex: folders('api', 'control', 'cli'),
      allowTypeImports: true,
      message:
        'workers/ import no values from api/, control/ or cli/: what they share with the API lives in contracts/ (types with `import type`)',
    },
    NO_LAUNCHER,
  ),
  layer(
    ['src/cli/**/*.ts'],
    {
      regex: folders('api', 'control', 'workers', 'activities', 'workflows'),
      allowTypeImports: true,
      message:
        'the CLI talks to the API over HTTP: it imports no values from api/, control/, workers/, activities/ or workflows/ (limits live in contracts/; types with `import type`)',
    },
    NO_LAUNCHER,
  ),
);
