// `pipeline status <source> [seq]`: a source's watermarks, or one record's journey.
import type { Command } from 'commander';
import type { Static } from '@sinclair/typebox';
import type { RecordReply, SourceReply as SourceReplySchema } from '../../api/schemas';
import { STAGES } from '../../contracts/names';
import { apiClient, enc, globals, intArg, sourceArg } from '../context';
import { formatPairs, formatTable, print, printJson } from '../output';

export type SourceReply = Static<typeof SourceReplySchema>;

export function formatSource(s: SourceReply): string {
  const counts = Object.entries(s.counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const blocked = s.blocked
    ? `seq ${s.blocked.seq} (${s.blocked.id}) at ${s.blocked.stage}: ${s.blocked.reason ?? 'no reason given'}`
    : 'none';
  const wm = s.watermarks as Record<string, number>;
  const rows = [...STAGES, 'delivered'].map((stage) => ({ stage, watermark: wm[stage], behind: s.lastSeq - wm[stage] }));
  return `${formatPairs([
    ['source', s.sourceId],
    ['last seq', s.lastSeq],
    ['records', counts || '-'],
    ['blocked', blocked],
  ])}\n\n${formatTable(rows)}`;
}

function formatRecord(r: RecordReply): string {
  const pairs: [string, unknown][] = [
    ['record', `${r.sourceId} #${r.seq} (id ${r.id})`],
    ['status', r.status],
    ['stage', r.stage],
    ['region', r.region === null ? null : `${r.region} (epoch ${r.epoch})`],
    ['workflow', r.workflowId],
    ['accepted', r.acceptedAt],
    ['delivered', r.deliveredAt],
  ];
  if (r.blocked) pairs.push(['blocked', `at ${r.blocked.stage}: ${r.blocked.reason ?? 'no reason given'}`]);
  const stages = r.stages as Record<string, { at: string; region: string; epoch: number } | undefined>;
  const rows = STAGES.map((stage) => ({
    stage,
    done: stages[stage]?.at ?? null,
    region: stages[stage]?.region ?? null,
    epoch: stages[stage]?.epoch ?? null,
  }));
  return `${formatPairs(pairs)}\n\n${formatTable(rows)}`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("a source's last seq and stage watermarks, or one record's status and stages")
    .argument('<source>', 'source id', sourceArg)
    .argument('[seq]', 'a record of the source', intArg(1))
    .action(async (source: string, seq: number | undefined, _opts: unknown, cmd: Command) => {
      const client = apiClient(cmd);
      const path = `/v1/sources/${enc(source)}${seq === undefined ? '' : `/records/${seq}`}`;
      const reply = await client.get<SourceReply | RecordReply>(path);
      if (globals(cmd).json) printJson(reply);
      else print(seq === undefined ? formatSource(reply as SourceReply) : formatRecord(reply as RecordReply));
    });
}
