import { z } from 'zod';

/**
 * 项目实施进度安排 The plan definition's shape, as zod: the file is checked against it at load (plan/definition.ts),
 * and the plan workflow's state (workflows/plan-messages.ts) carries it pinned. Only zod here, so the workflow
 * bundle may import it; the loading and the cross-checks stay in plan/definition.ts.
 */

export const planElementId = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'expected a lower-case id (a-z, 0-9, -; at most 40 chars)');
export const localizedTitle = z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict();
export const dueOffsetDays = z.number().int().min(0).max(730);

/** Roles that own plan items; they are API token roles, so the API and the workflow can check them. */
export const OWNER_ROLES = ['operator', 'approver'] as const;
export type OwnerRole = (typeof OWNER_ROLES)[number];

export const AUTOMATED_RUNS = ['network-policy-check', 'joint-test-check', 'cutover-rehearsal', 'cutover-live', 'reporting-joint-test', 'standby-setup', 'standby-check'] as const;
export type AutomatedRun = (typeof AUTOMATED_RUNS)[number];

export const itemCompletion = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('signoff') }).strict(),
  z.object({ kind: z.literal('automated'), run: z.enum(AUTOMATED_RUNS) }).strict(),
]);

export const planItemDefinition = z
  .object({
    id: planElementId,
    title: localizedTitle,
    ownerRole: z.enum(OWNER_ROLES),
    dependsOn: z.array(planElementId),
    dueOffsetDays,
    deliverable: z.string().min(1),
    completion: itemCompletion,
  })
  .strict();

export const planDefinition = z
  .object({
    name: localizedTitle,
    remindBeforeDays: z.number().int().min(0).max(60),
    retryAutomatedAfterHours: z.number().positive().max(24 * 30),
    reportEveryDays: z.number().int().min(1).max(31),
    packages: z.array(z.object({ id: planElementId, title: localizedTitle, items: z.array(planItemDefinition).min(1) }).strict()).min(1),
    milestones: z.array(z.object({ id: planElementId, title: localizedTitle, dueOffsetDays, deliverable: z.string().min(1), items: z.array(planElementId).min(1) }).strict()),
  })
  .strict();

export type PlanDefinition = z.infer<typeof planDefinition>;
export type PlanItemDefinition = z.infer<typeof planItemDefinition>;
export type LocalizedTitle = z.infer<typeof localizedTitle>;
