// Lint: correctness rules with type information, and determinism of workflow code enforced here
// rather than by memory (no Node builtins, no I/O, no clocks or randomness in src/workflows).
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', 'test-artifacts/**', '*.js', 'test/**/*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: __dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: builtinModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'workflow code must be deterministic: no Node builtins' })),
          patterns: [
            { group: ['pg', 'pino', 'fastify', '../db/*', '../api/*', '../temporal/*', '../stages/*'], message: 'workflow code does no I/O' },
            { group: ['../activities/*'], allowTypeImports: true, message: 'import activities type-only (proxyActivities)' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' }, { name: 'setInterval', message: 'use sleep()' }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'use workflow time' },
        { object: 'Math', property: 'random', message: 'not deterministic' },
      ],
    },
  },
);
