// The order of the run (one file at a time): unit, integration, replay and workflow tests first,
// then the end-to-end files on the shared system together (see test/helpers/system.ts), the one
// that stops it last among them, so that it is not left idle beside the files that boot their own.
const Sequencer = require('@jest/test-sequencer').default;
const fs = require('node:fs');
const path = require('node:path');

const FOLDERS = ['unit', 'integration', 'replay', 'workflow', 'e2e'];

function rank(test) {
  const folder = path.relative(path.join(test.context.config.rootDir, 'test'), test.path).split(path.sep)[0];
  const base = FOLDERS.indexOf(folder) === -1 ? FOLDERS.length : FOLDERS.indexOf(folder);
  if (folder !== 'e2e') return base * 10;
  const text = fs.readFileSync(test.path, 'utf8');
  if (!text.includes('sharedSystem()')) return base * 10 + 3;
  return base * 10 + (text.includes('sys.stop()') ? 2 : 1);
}

class RunOrder extends Sequencer {
  async sort(tests) {
    // Within a rank, the default order (files that failed last time first, then the slowest).
    const ordered = await super.sort(tests);
    return [...ordered].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = RunOrder;
