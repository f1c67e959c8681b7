import type { RunKind } from '../run-kinds';
import { cutoverKind } from './cutover';

/** Every workflow kind the API serves; a new kind (plan, fallback, verification …) is one entry here. */
export const RUN_KINDS: readonly RunKind[] = [cutoverKind];
