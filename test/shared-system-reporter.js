// When a file on the shared system fails, the last lines of that system's API and Temporal logs,
// as startSystem's boot errors show them: the files that boot their own system print nothing
// more, but a shared one carries what earlier files did, and its logs are the first place to look.
const fs = require('node:fs');
const path = require('node:path');

const LINES = 15;

function tails(dataDir) {
  const dir = path.join(dataDir, 'logs');
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('api') || f.startsWith('temporal'))
    .map((f) => {
      const last = fs.readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n').slice(-LINES).join('\n');
      return `\n--- ${path.join(dir, f)} (last ${LINES} lines)\n${last}`;
    })
    .join('');
}

class SharedSystemReporter {
  onTestResult(test, result) {
    const stateDir = process.env.HARNESS_SHARED_DIR;
    if (!stateDir || (result.numFailingTests === 0 && !result.testExecError)) return;
    if (!fs.readFileSync(test.path, 'utf8').includes('sharedSystem()')) return;
    // The data folder of the last system booted (harness/shared-system.ts writes one per boot).
    const dirs = path.join(stateDir, 'data-dirs');
    const dataDir = fs.existsSync(dirs) ? fs.readFileSync(dirs, 'utf8').trim().split('\n').at(-1) : undefined;
    if (dataDir) process.stderr.write(`\nThe shared system's logs, after ${path.basename(test.path)} failed:${tails(dataDir)}\n`);
  }
}

module.exports = SharedSystemReporter;
