import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestStack } from './stack';

/**
 * Records the fixtures test/fixtures/migrate-table-history.json and test/fixtures/verification-history.json:
 * a rehearsal cutover on the real stack (200 generated entities) brought to its go/no-go gate, then the
 * history of its first table's migrate child and of its verification child (the client's fetchHistory(),
 * JSON), and the cutover terminated. Run with the workflow code whose command sequences the replays must keep:
 *   node --import tsx test/support/record-child-histories.ts test/fixtures
 */
async function main() {
  const out = process.argv[2];
  if (!out) throw new Error('usage: record-child-histories.ts <fixtures dir>');
  const stack = new TestStack();
  try {
    await stack.start();
    await stack.seedLegacy(200);
    await stack.startWorker();
    const operator = await stack.token('olivia.ops', 'operator');
    const id = await stack.startCutoverAtGate(operator, `${stack.id}-children`);
    const children: { workflowId: string; type: string }[] = [];
    for await (const w of stack.temporal.workflow.list({ query: `WorkflowId STARTS_WITH "${id}/"` })) children.push({ workflowId: w.workflowId, type: w.type });
    const pick = (type: string) => children.filter((c) => c.type === type).sort((a, b) => a.workflowId.localeCompare(b.workflowId))[0];
    for (const [type, file] of [['migrateTable', 'migrate-table-history.json'], ['verification', 'verification-history.json']] as const) {
      const child = pick(type);
      if (!child) throw new Error(`no ${type} child of ${id} among ${JSON.stringify(children)}`);
      const history = await stack.temporal.workflow.getHandle(child.workflowId).fetchHistory();
      const object = temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String });
      fs.writeFileSync(path.join(out, file), JSON.stringify(object));
      console.log(`${child.workflowId} (${type}): ${history.events?.length} events → ${file}`);
    }
    await stack.temporal.workflow.getHandle(id).terminate('fixtures recorded');
  } finally {
    await stack.stop();
  }
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
