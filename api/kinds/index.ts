import type { RunKind } from '../run-kinds';
import { cutoverKind } from './cutover';
import { fallbackKind } from './fallback';
import { planKind } from './plan';
import { remediationKind } from './remediation';
import { reportingKind } from './reporting';
import { standbyKind } from './standby';
import { verificationKind } from './verification';

/** Every workflow kind the API serves; a new kind is one entry here. */
export const RUN_KINDS: readonly RunKind[] = [cutoverKind, fallbackKind, verificationKind, planKind, reportingKind, standbyKind, remediationKind];
