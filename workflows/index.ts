/**
 * The workflow bundle's entry point: every workflow type the worker serves, each module loaded when a workflow
 * of its type runs. The SDK gives every workflow its own module cache (its reusable V8 context shares only
 * what is loaded before any workflow exists, and freezes it, which zod cannot live with), so each module
 * reached from here is evaluated again for every workflow that starts. Imported eagerly, every run kind with
 * its shapes (zod) cost each migrateTable child — one per table of a migration — ~70 ms before its first
 * command (bench:migrate); loaded on demand, a workflow evaluates its own modules only. Lookups by name (the
 * SDK takes `workflowType` from here), so no command changes: histories replay alike.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a require inside a function is how webpack defers a module's evaluation within the one bundle */

type Workflow = (...args: never[]) => Promise<unknown>;

/** The workflow function `load` gives, loaded on its first call. */
function onDemand<F extends Workflow>(load: () => F): F {
  return ((...args: Parameters<F>) => load()(...args)) as F;
}

export const cutover = onDemand(() => (require('./cutover') as typeof import('./cutover')).cutover);
export const fallback = onDemand(() => (require('./fallback') as typeof import('./fallback')).fallback);
export const migrateTable = onDemand(() => (require('./migrate-table') as typeof import('./migrate-table')).migrateTable);
export const plan = onDemand(() => (require('./plan') as typeof import('./plan')).plan);
export const verification = onDemand(() => (require('./verification') as typeof import('./verification')).verification);
export const reporting = onDemand(() => (require('./reporting') as typeof import('./reporting')).reporting);
export const standby = onDemand(() => (require('./standby') as typeof import('./standby')).standby);
export const remediation = onDemand(() => (require('./remediation') as typeof import('./remediation')).remediation);
export const remediationCheck = onDemand(() => (require('./remediation-check') as typeof import('./remediation-check')).remediationCheck);
export const remediationHeld = onDemand(() => (require('./remediation-check') as typeof import('./remediation-check')).remediationHeld);
