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

/** Temporal's execution statuses, as the SDK names them. */
export const EXECUTION_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'UNKNOWN', 'UNSPECIFIED', 'PAUSED'] as const;

/** A run as GET /runs lists it (and as pending approvals show it); the CLI reads its type too. */
export const runSummary = z.object({
  kind: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  execution: z.enum(EXECUTION_STATUSES).describe('Temporal execution status'),
  status: z.string().describe('RunbookStatus: the runbook status the workflow publishes').optional(),
  phase: z.string().describe('RunbookPhase').optional(),
  requestedBy: z.string().optional(),
  startedAt: z.string().meta({ format: 'date-time' }),
  closedAt: z.string().meta({ format: 'date-time' }).optional(),
  href: z.string().describe('this run in the API').optional(),
  ui: z.string().describe('this run in the Temporal Web UI'),
});

/** An item of GET /approvals/pending: the run, and the gate or plan item in it that waits for the caller. */
export const pendingApproval = runSummary.extend({
  gate: z.string().describe('the gate, or the plan item'),
  gateTitle: z.string(),
  decide: z.string().describe('POST here: a gate takes {"decision": "approve"|"reject", "reason": …}, a plan item {"note": …}'),
});

/** GET /runs's answer: a page of runs, newest first, and the token of the next page. */
export const runList = z.object({ runs: z.array(runSummary), nextPageToken: z.string().optional() });

/** GET /approvals/pending's answer. */
export const pendingApprovals = z.object({
  pending: z.array(pendingApproval),
  unavailable: z.array(z.object({ workflowId: z.string(), problem: z.string() })).describe('runs waiting for approval whose state could not be read (no worker answering)'),
});

const FIRST_KEYS = ['type', 'enum', 'format', 'description'];

/**
 * An answer's documented JSON schema: its properties' types, nested objects and arrays likewise, without `required`
 * or `additionalProperties` (the documented responses do not say them; the types do: every route sends them all).
 */
export function documented(answer: z.ZodType): { type: 'object'; properties: Record<string, unknown> } {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!node || typeof node !== 'object') return node;
    // The hand-written schemas' order of keys: type, enum, format, description, then the rest (items, properties).
    const rank = (k: string) => ((i) => (i < 0 ? FIRST_KEYS.length : i))(FIRST_KEYS.indexOf(k));
    return Object.fromEntries(
      Object.entries(node)
        .filter(([k]) => !['$schema', 'required', 'additionalProperties'].includes(k))
        .sort(([a], [b]) => rank(a) - rank(b))
        .map(([k, v]) => [k, k === 'enum' ? v : k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, x]) => [p, strip(x)])) : strip(v)]),
    );
  };
  return strip(z.toJSONSchema(answer)) as { type: 'object'; properties: Record<string, unknown> };
}

type JsonNode = Record<string, unknown>;

/**
 * A zod shape as the JSON schema fastify validates a body with (ajv, draft 7) and serialises an answer with, and that
 * OpenAPI 3.0 documents: properties, types, bounds, enums, descriptions and `required`; records without
 * `propertyNames`, a literal as a one-value enum, and an integer without zod's implied ±2^53 bounds. A type owned
 * elsewhere and carried as it is (`z.custom`) is documented as any value.
 * io 'input': a body (a strict object refuses unknown properties); 'output': what a run publishes.
 */
export function jsonSchemaOf(shape: z.ZodType, io: 'input' | 'output'): JsonNode {
  const clean = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(clean);
    if (!node || typeof node !== 'object') return node;
    const out: JsonNode = {};
    const keys = (node as JsonNode).propertyNames as { enum?: string[] } | undefined;
    if (keys?.enum && typeof (node as JsonNode).additionalProperties === 'object') {
      // A record over a known set of keys (a step or gate name): each key a property of its own, nothing else.
      const value = clean((node as JsonNode).additionalProperties);
      const rest = Object.fromEntries(Object.entries(node).filter(([k]) => !['propertyNames', 'additionalProperties', 'required'].includes(k)));
      return { ...(clean(rest) as JsonNode), properties: Object.fromEntries(keys.enum.map((k) => [k, value])), additionalProperties: false };
    }
    const anyOf = (node as JsonNode).anyOf as JsonNode[] | undefined;
    if (anyOf?.length === 2 && anyOf[1].type === 'null' && typeof anyOf[0].type === 'string') {
      // a nullable value: its own type or null (OpenAPI 3.0 has no null type of its own; fastify's swagger converts this form)
      const rest = Object.fromEntries(Object.entries(node).filter(([k]) => k !== 'anyOf'));
      return clean({ ...anyOf[0], type: [anyOf[0].type, 'null'], ...rest });
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === '$schema' || k === 'propertyNames') continue;
      if ((k === 'minimum' && v === Number.MIN_SAFE_INTEGER) || (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)) continue;
      if (k === 'const') out.enum = [v];
      else if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as object).map(([p, x]) => [p, clean(x)]));
      else out[k] = clean(v);
    }
    return out;
  };
  return clean(z.toJSONSchema(shape, { target: 'draft-7', unrepresentable: 'any', io })) as JsonNode;
}

/** A start body's JSON schema, from the run kind's zod shape of it (the type the kind's `plan` takes is inferred from the same). */
export function bodySchemaOf(shape: z.ZodObject): JsonNode {
  return jsonSchemaOf(shape, 'input');
}

/**
 * The JSON schema of a run's state, from the workflow's own zod shape of it (workflows/*-messages.ts): every property
 * documented, and every object passing through what it holds besides, as a state grows with a run's steps — the
 * serializer never drops a field a newer worker publishes to an older API.
 */
export function stateSchemaOf(shape: z.ZodObject): { type: 'object'; properties: Record<string, object>; required?: string[]; additionalProperties: true } {
  const open = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(open);
    if (!node || typeof node !== 'object') return node;
    const o = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, x]) => [p, open(x)])) : open(v)]));
    if (o.type === 'object' && o.additionalProperties === false) o.additionalProperties = true;
    // Only the top level says what must be there (the serializer refuses an answer without it); inside, a part a
    // run of an earlier version never published is left out rather than failing the answer.
    delete o.required;
    return o;
  };
  const schema = jsonSchemaOf(shape, 'output') as { properties: Record<string, object>; required?: string[] };
  const properties = Object.fromEntries(Object.entries(schema.properties).map(([p, x]) => [p, open(x) as object]));
  return { type: 'object', properties, ...(schema.required?.length ? { required: schema.required } : {}), additionalProperties: true };
}

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
export type RunSummary = z.infer<typeof runSummary>;
export type PendingApproval = z.infer<typeof pendingApproval>;
export type PendingApprovals = z.infer<typeof pendingApprovals>;
export type RunList = z.infer<typeof runList>;
