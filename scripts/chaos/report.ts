// The chaos run's final report, as printed by npm run chaos and the chaos test.
import type { ChaosReport } from './run';

export function formatReport(r: ChaosReport): string {
  const lines = [
    '',
    `chaos report (seed ${r.seed}, ${r.durationS} s${
      Object.keys(r.env).length
        ? `, ${Object.entries(r.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''
    }, drained in ${r.drainS} s)`,
    '  faults injected by kind:',
    ...Object.entries(r.faults).map(
      ([kind, n]) =>
        `    ${kind.padEnd(26)} ${String(n.injected).padStart(3)}${n.refused ? `  (${n.refused} refused)` : ''}${n.failed ? `  (${n.failed} failed to inject)` : ''}`,
    ),
    `  records accepted           ${r.accepted} (${r.acknowledged} answered 202, ${r.unanswered} submissions unanswered while the API was down)`,
    `  records delivered          ${r.delivered}`,
    `  duplicates                 ${r.duplicates}`,
    `  order violations           ${r.orderViolations.length}${r.orderViolations.length ? ` ${JSON.stringify(r.orderViolations.slice(0, 5))}` : ''}`,
    `  lost records               ${r.lost.length}${r.lost.length ? ` ${r.lost.slice(0, 10).join(', ')}` : ''}`,
    `  stalled (open at the end)  ${r.stalled}${r.stalled ? ` (${r.stalledDetail.byStatus.map((s) => `${s.n} ${s.status} in ${s.region ?? '-'}`).join(', ')}; first open: ${r.stalledDetail.first.slice(0, 5).join(', ')})` : ''}`,
    `  gaps                       ${r.gaps}`,
    `  second or terminated runs  ${r.secondRuns.length}${r.secondRuns.length ? ` ${r.secondRuns.slice(0, 5).join('; ')}` : ''}`,
    `  other invariants           ${r.invariants.length ? r.invariants.slice(0, 10).join('; ') : 'hold'}`,
    `  longest stall              ${r.longestStall.s} s${r.longestStall.source ? ` (${r.longestStall.source}, from ${r.longestStall.fromS} s: open records, none finished)` : ''}`,
    `  max accept-to-delivered    ${r.maxLatencyS} s`,
    `  reconciler                 ${
      r.reconciler
        ? `${r.reconciler.passes} passes, repairs ${
            Object.entries(r.reconciler.repairedTotal)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || 'none'
          }`
        : 'not reachable'
    }`,
    `  summary                    ${r.lost.length} lost, ${r.duplicates} duplicate, ${r.orderViolations.length} out of order, ${r.stalled} stalled, ${r.secondRuns.length} second or terminated runs`,
    `  result                     ${r.ok ? 'OK' : 'INVARIANTS BROKEN'}`,
  ];
  return lines.join('\n');
}
