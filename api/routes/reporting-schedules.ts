import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { repoRoot } from '../../lib/settings';
import { ConfigError } from '../../lib/config-file';
import { ensureReportingSchedules, loadScheduleStages, scheduleId } from '../../reporting/schedule';
import { ProblemError } from '../problems';
import { problems } from '../schemas';

/**
 * 定时上报 The reporting Schedules (reporting/schedule.ts): put them in place from config, list them,
 * and pause, resume or trigger one stage. Operators act; viewers read.
 */
export interface ReportingScheduleRoutesOptions {
  temporal: Client;
  taskQueue: string;
  schedulesFile?: string;
}

const TAGS = ['数据汇聚及上报 Reporting'];

export default async function reportingScheduleRoutes(app: FastifyInstance, opts: ReportingScheduleRoutesOptions) {
  const file = opts.schedulesFile ?? path.join(repoRoot, 'config', 'reporting', 'schedules.json');
  const stages = () => {
    try {
      return loadScheduleStages(file);
    } catch (err) {
      if (err instanceof ConfigError) throw new ProblemError(409, 'Invalid schedule configuration', err.message);
      throw err;
    }
  };
  const stageParam = { type: 'object', additionalProperties: false, required: ['stage'], properties: { stage: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } } };

  app.put(
    '/reporting/schedules',
    {
      config: { roles: ['operator'] },
      schema: {
        summary: '定时上报 Put the reporting Schedules in place from config/reporting/schedules.json (create or update)',
        tags: TAGS,
        response: { 200: { type: 'object', additionalProperties: false, required: ['schedules'], properties: { schedules: { type: 'array', items: { type: 'string' } } } }, ...problems(400, 401, 403, 409, 500) },
      },
    },
    async (request) => ({ schedules: await ensureReportingSchedules(opts.temporal, opts.taskQueue, stages(), request.actor!.name) }),
  );

  app.get(
    '/reporting/schedules',
    {
      config: { roles: ['viewer', 'operator', 'approver'] },
      schema: {
        summary: '定时上报 The reporting Schedules: frequency, paused, recent and next runs',
        tags: TAGS,
        response: { 200: { type: 'object', additionalProperties: true, required: ['schedules'], properties: { schedules: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...problems(400, 401, 403, 409, 500) },
      },
    },
    async () => {
      const out = [];
      for (const st of stages()) {
        try {
          const d = await opts.temporal.schedule.getHandle(scheduleId(opts.taskQueue, st.id)).describe();
          out.push({
            stage: st.id,
            title: st.title,
            scheduleId: d.scheduleId,
            everyMinutes: st.everyMinutes,
            overlap: st.overlap,
            paused: d.state.paused,
            note: d.state.note ?? null,
            recentRuns: d.info.recentActions.slice(-5).map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
            nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
          });
        } catch (err) {
          if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
          out.push({ stage: st.id, title: st.title, scheduleId: scheduleId(opts.taskQueue, st.id), everyMinutes: st.everyMinutes, overlap: st.overlap, missing: true });
        }
      }
      return { schedules: out };
    },
  );

  for (const action of ['pause', 'resume', 'trigger'] as const) {
    app.post<{ Params: { stage: string }; Body: { reason?: string } }>(
      `/reporting/schedules/:stage/${action}`,
      {
        config: { roles: ['operator'] },
        schema: {
          summary: `定时上报 ${action === 'pause' ? '暂停 Pause' : action === 'resume' ? '恢复 Resume' : '立即执行 Trigger now'} a reporting Schedule`,
          tags: TAGS,
          params: stageParam,
          body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 500, description: '原因 why, kept as the Schedule\'s note' } } },
          response: { 202: { type: 'object', additionalProperties: false, required: ['scheduleId', 'action'], properties: { scheduleId: { type: 'string' }, action: { type: 'string' } } }, ...problems(400, 401, 403, 404, 409, 500) },
        },
      },
      async (request, reply) => {
        const st = stages().find((s) => s.id === request.params.stage);
        if (!st) throw new ProblemError(404, 'Unknown stage', `no reporting stage "${request.params.stage}" in ${path.basename(file)}`, 'params.stage');
        const handle = opts.temporal.schedule.getHandle(scheduleId(opts.taskQueue, st.id));
        const note = `${action} by ${request.actor!.name}${request.body?.reason ? `: ${request.body.reason}` : ''}`;
        try {
          if (action === 'pause') await handle.pause(note);
          else if (action === 'resume') await handle.unpause(note);
          else await handle.trigger('ALLOW_ALL');
        } catch (err) {
          if ((err as Error).name === 'ScheduleNotFoundError') throw new ProblemError(404, 'Schedule not in place', `${scheduleId(opts.taskQueue, st.id)} does not exist yet: PUT /reporting/schedules first`, 'params.stage');
          throw err;
        }
        return reply.code(202).send({ scheduleId: scheduleId(opts.taskQueue, st.id), action });
      },
    );
  }
}
