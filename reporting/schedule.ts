import type { Client, ScheduleOverlapPolicy } from '@temporalio/client';
import { z } from 'zod';
import { readConfigFile } from '../lib/config-file';
import type { ReportingInput } from '../workflows/reporting-messages';

/**
 * 定时上报 One Temporal Schedule per stage of config/reporting/schedules.json: each starts a reporting
 * workflow every N minutes over its tables, with the overlap policy skip (a cycle still running makes
 * the next one skip) or buffer-one (one waits). Pause, resume and trigger go through the API.
 */
const stageSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'expected a lower-case id (a-z, 0-9, -)'),
    title: z.string().min(1),
    everyMinutes: z.number().int().min(1).max(1440),
    overlap: z.enum(['skip', 'buffer-one']),
    tables: z.array(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)).optional(),
    paused: z.boolean().default(false),
  })
  .strict();
const fileSchema = z.object({ description: z.string().optional(), stages: z.array(stageSchema).min(1) }).strict();
export type ScheduleStage = z.infer<typeof stageSchema>;

export function loadScheduleStages(file: string): ScheduleStage[] {
  return readConfigFile(file, fileSchema).stages;
}

/** One Schedule per stage and task queue (the queue names the deployment), e.g. reporting-cutover-entities. */
export const scheduleId = (taskQueue: string, stage: string) => `reporting-${taskQueue}-${stage}`;

const OVERLAP: Record<ScheduleStage['overlap'], ScheduleOverlapPolicy> = { skip: 'SKIP', 'buffer-one': 'BUFFER_ONE' };

/** Creates each stage's Schedule, or updates it to the config (frequency, overlap, tables); returns the ids. */
export async function ensureReportingSchedules(client: Client, taskQueue: string, stages: ScheduleStage[], by: string): Promise<string[]> {
  const ids: string[] = [];
  for (const st of stages) {
    const scheduleIdValue = scheduleId(taskQueue, st.id);
    const input: ReportingInput = { runId: `${st.id}-scheduled`, tables: st.tables, requestedBy: `schedule:${by}` };
    const action = {
      type: 'startWorkflow' as const,
      workflowType: 'reporting',
      // Temporal appends the scheduled time to the id, so each cycle is its own run: reporting-<stage>-<time>.
      workflowId: scheduleIdValue,
      taskQueue,
      args: [input],
      staticSummary: `数据汇聚及上报 ${st.title} · every ${st.everyMinutes} min`,
    };
    const spec = { intervals: [{ every: `${st.everyMinutes} minutes` as const }] };
    const policies = { overlap: OVERLAP[st.overlap] };
    const handle = client.schedule.getHandle(scheduleIdValue);
    try {
      await handle.describe();
      await handle.update((prev) => ({ ...prev, spec, action, policies: { ...prev.policies, ...policies } }));
    } catch (err) {
      if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
      await client.schedule.create({ scheduleId: scheduleIdValue, spec, action, policies, state: { paused: st.paused, note: `created by ${by}` } });
    }
    ids.push(scheduleIdValue);
  }
  return ids;
}
