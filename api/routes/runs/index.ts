import type { FastifyInstance } from 'fastify';
import approvalRoutes from './approvals';
import cancelRoute from './cancel';
import { kindPaths, runRouteContext, type RunRoutesOptions } from './context';
import gateRoutes from './gates';
import listRoutes from './list';
import reportRoutes from './reports';
import startRoute from './start';
import stateRoute from './state';
import stepRoutes from './steps';

export type { RunRoutesOptions } from './context';

/**
 * The run routes, generated from the registry of workflow kinds (api/kinds), one plugin per concern: per kind,
 * start / state / cancel / decide a gate / choose after a failed step / download a report; across kinds, the run
 * list (Temporal visibility) and "pending approvals for me". Every run is scoped to this deployment's task queue,
 * so runs of other deployments on the same Temporal namespace are invisible here. A per-kind plugin serves only
 * what its kind declares (gates, step choices, reports) and registers nothing otherwise.
 */
export default async function runRoutes(app: FastifyInstance, opts: RunRoutesOptions) {
  const ctx = runRouteContext(opts);
  // Kind by kind, its routes in this order (the OpenAPI document lists them so).
  for (const kind of opts.kinds) {
    const perKind = { ctx, kind, paths: kindPaths(kind) };
    for (const plugin of [startRoute, stateRoute, cancelRoute, gateRoutes, stepRoutes, reportRoutes]) await app.register(plugin, perKind);
  }
  await app.register(listRoutes, { ctx });
  await app.register(approvalRoutes, { ctx });
}
