import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../../problems';
import { problems } from '../../schemas';
import { correlate, type KindRoutesOptions, READERS } from './context';

/**
 * 报告 GET /<collection>/:workflowId/reports/:name, for kinds with reports: rendered from the run's state, or a file
 * the worker wrote, served from REPORTS_DIR only (the path guard below).
 */
export default async function reportRoutes(app: FastifyInstance, { ctx, kind, paths }: KindRoutesOptions) {
  const { reportsDir, describe, readState } = ctx;
  const { tag, base, workflowIdParam } = paths;
  const reportNames = Object.keys(kind.reports);
  if (!reportNames.length) return;

  /**
   * A report file the worker wrote, if it has: only below REPORTS_DIR, also after following links, so
   * neither a name nor a planted symlink reaches anything else on the disk.
   */
  async function reportFile(relative: string): Promise<string | undefined> {
    try {
      const root = await fs.promises.realpath(reportsDir);
      const real = await fs.promises.realpath(path.resolve(root, relative));
      const inside = path.relative(root, real);
      if (!inside || inside.startsWith('..') || path.isAbsolute(inside)) {
        app.log.warn({ relative }, 'report path leads outside REPORTS_DIR; refused');
        return undefined;
      }
      return (await fs.promises.stat(real)).isFile() ? real : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  const contentTypes = [...new Set(reportNames.map((n) => kind.reports[n].contentType.split(';')[0]))];
  app.get<{ Params: { workflowId: string; name: string } }>(
    `${base}/:workflowId/reports/:name`,
    {
      config: { roles: READERS, action: 'download report' },
      schema: {
        summary: `下载${kind.title.split(' ')[0]}报告 Download a ${kind.kind} report`,
        description: `reports 报告: ${reportNames.map((n) => `${n} (${kind.reports[n].title})`).join(', ')}. Reports the worker writes are served from REPORTS_DIR once written (404 before).`,
        tags: [tag, '报告 Reports'],
        params: {
          type: 'object',
          required: ['workflowId', 'name'],
          properties: {
            workflowId: workflowIdParam,
            // A name, never a path: no separators, no leading dot, so ../ cannot appear.
            name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,60}\\.(md|csv|json|html)$', description: `报告名 report name: ${reportNames.join(', ')}` },
          },
        },
        response: {
          200: { description: '报告 The report', content: Object.fromEntries(contentTypes.map((t) => [t, { schema: { type: 'string' } }])) },
          ...problems(400, 401, 403, 404, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { workflowId, name } = request.params;
      correlate(request, reply, workflowId);
      const report = Object.hasOwn(kind.reports, name) ? kind.reports[name] : undefined;
      if (!report) {
        throw new ProblemError(404, 'Unknown report', `no report "${name}"; ${kind.kind} reports: ${reportNames.join(', ')}`, 'params.name');
      }
      const d = await describe(kind, workflowId);
      const state = await readState(kind, workflowId, d.status.name);
      const body = 'render' in report ? report.render(state, workflowId) : await fromFile(report.file(state), report.convert);
      return reply.type(report.contentType).header('content-disposition', `attachment; filename="${workflowId}-${name}"`).send(body);

      async function fromFile(relative: string | undefined, convert?: (text: string, workflowId: string) => string) {
        const file = relative && (await reportFile(relative));
        if (!file) {
          throw new ProblemError(404, 'Report not written', `run ${workflowId} has no ${name} (yet): the worker writes it when the run gets there`, 'params.name');
        }
        return convert ? convert(await fs.promises.readFile(file, 'utf8'), workflowId) : fs.createReadStream(file);
      }
    },
  );
}
