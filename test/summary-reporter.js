// Ends the run with one plain line, "N passed, N failed, N skipped", for tools that read it.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const {
      numPassedTests: passed,
      numFailedTests: failed,
      numPendingTests: skipped,
      numFailedTestSuites,
      numRuntimeErrorTestSuites,
    } = results;
    const broken = numFailedTestSuites + numRuntimeErrorTestSuites > 0 && failed === 0 ? 1 : 0;
    // At exit, so it comes after jest's own summary.
    process.once('exit', () => process.stderr.write(`\n${passed} passed, ${failed + broken} failed, ${skipped} skipped\n`));
  }
}
module.exports = SummaryReporter;
