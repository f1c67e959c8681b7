// The workflow bundle's entry point: every workflow type the worker serves.
export { cutover } from './cutover';
export { fallback } from './fallback';
export { migrateTable } from './migrate-table';
export { plan } from './plan';
export { verification } from './verification';
export { reporting } from './reporting';
export { standby } from './standby';
export { remediation } from './remediation';
export { remediationCheck, remediationHeld } from './remediation-check';
