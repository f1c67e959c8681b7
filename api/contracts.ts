import { z } from 'zod';

/**
 * 接口契约 The API's answers defined once, as zod schemas: the routes' documented responses (fastify's JSON schema,
 * hence the OpenAPI document) are generated from them by `answerSchema`, and the CLI's types are inferred from
 * them (cli/answers.ts). The documented responses name their properties and types as before; they do not yet say
 * which are required (the types do: every route sends them all).
 */
export const startedAnswer = z.object({ workflowId: z.string(), runId: z.string(), ui: z.string(), href: z.string() });

export const gateDecisionAnswer = z.object({
  workflowId: z.string(),
  gate: z.string(),
  decision: z.string(),
  decidedBy: z.string(),
  status: z.string(),
  requestId: z.string().describe('the request that counted it'),
  ui: z.string(),
});

export const stepChoiceAnswer = z.object({ workflowId: z.string(), step: z.string(), action: z.string(), status: z.string(), ui: z.string() });

export const cancelAnswer = z.object({ workflowId: z.string(), status: z.string(), ui: z.string() });

/** A plan item's sign-off (t0) or re-baseline (dueDate). */
export const planItemAnswer = z.object({
  workflowId: z.string(),
  itemId: z.string(),
  dueDate: z.string().optional(),
  t0: z.string().optional(),
  status: z.string(),
  ui: z.string(),
});

/** A route's documented response for an answer: its description, and the answer's properties as JSON schema. */
export function answerSchema(description: string, answer: z.ZodObject): { description: string; type: 'object'; properties: Record<string, unknown> } {
  const { properties } = z.toJSONSchema(answer) as { properties: Record<string, unknown> };
  return { description, type: 'object', properties };
}

export type StartedAnswer = z.infer<typeof startedAnswer>;
export type GateDecisionAnswer = z.infer<typeof gateDecisionAnswer>;
export type StepChoiceAnswer = z.infer<typeof stepChoiceAnswer>;
export type CancelAnswer = z.infer<typeof cancelAnswer>;
export type PlanItemAnswer = z.infer<typeof planItemAnswer>;
