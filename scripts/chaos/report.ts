// The chaos run's final report, as printed by npm run chaos and the chaos test.
import type { ChaosReport } from './run';

export function formatReport(r: ChaosReport): string {
  const lines = [
    '',
    `chaos report (seed ${r.seed}, ${r.durationS} s, drained in ${r.drainS} s)`,
    '  faults injected by kind:',
    ...Object.entries(r.faults).map(([kind, n]) => `    ${kind.padEnd(26)} ${String(n.injected).padStart(3)}${n.refused ? `  (${n.refused} refused)` : ''}${n.failed ? `  (${n.failed} failed to inject)` : ''}`),
    `  records accepted           ${r.accepted} (${r.acknowledged} answered 202, ${r.unanswered} submissions unanswered while the API was down)`,
    `  records delivered          ${r.delivered}`,
    `  duplicates                 ${r.duplicates}`,
    `  order violations           ${r.orderViolations.length}${r.orderViolations.length ? ` ${JSON.stringify(r.orderViolations.slice(0, 5))}` : ''}`,
    `  lost records               ${r.lost.length}${r.lost.length ? ` ${r.lost.slice(0, 10).join(', ')}` : ''}`,
    `  gaps                       ${r.gaps}`,
    `  max accept-to-delivered    ${r.maxLatencyS} s`,
    `  result                     ${r.ok ? 'OK' : 'INVARIANTS BROKEN'}`,
  ];
  return lines.join('\n');
}
