import path from 'node:path';
import { recordOnStack, saveHistory } from './recording';

/**
 * Records the fixtures test/fixtures/migrate-table-history.json and test/fixtures/verification-history.json:
 * a rehearsal cutover on the real stack (200 generated entities) brought to its go/no-go gate, then the
 * history of its first table's migrate child and of its verification child (the client's fetchHistory(),
 * JSON), and the cutover terminated. Run with the workflow code whose command sequences the replays must keep:
 *   node --import tsx test/support/record-child-histories.ts test/fixtures
 */
recordOnStack('record-child-histories.ts', async (stack, operator, out) => {
  const id = await stack.startCutoverAtGate(operator, `${stack.id}-children`);
  const children: { workflowId: string; type: string }[] = [];
  for await (const w of stack.temporal.workflow.list({ query: `WorkflowId STARTS_WITH "${id}/"` })) children.push({ workflowId: w.workflowId, type: w.type });
  const pick = (type: string) => children.filter((c) => c.type === type).sort((a, b) => a.workflowId.localeCompare(b.workflowId))[0];
  for (const [type, file] of [['migrateTable', 'migrate-table-history.json'], ['verification', 'verification-history.json']] as const) {
    const child = pick(type);
    if (!child) throw new Error(`no ${type} child of ${id} among ${JSON.stringify(children)}`);
    await saveHistory(stack.temporal, child.workflowId, path.join(out, file), `${child.workflowId} (${type})`);
  }
  await stack.temporal.workflow.getHandle(id).terminate('fixtures recorded');
});
