import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import type { Mapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { ensureReportSchema, ReportContext } from '../../reporting/batch';
import { installCapture } from '../../reporting/capture';
import { startReceiver, Receiver } from '../../reporting/receiver';
import type { ReportSpec } from '../../reporting/spec';

/** The registry as go-live leaves it: the engine's own chunk copy of a legacy database into the target. */
export async function migrateInto(legacyUrl: string, targetUrl: string, mapping: Mapping): Promise<void> {
  const source = new PostgresSource(legacyUrl);
  try {
    await withClient(targetUrl, async (target) => {
      await ensureTargetSchema(target, mapping);
      for (const table of mapping.tables) for (const chunk of await source.planChunks(table, 5000)) await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt: 1 });
    });
  } finally {
    await source.close();
  }
}

/** Change capture on the registry, a province database with its ledger, an outbox and the reference receiver. */
export async function startReporting(spec: ReportSpec, registryUrl: string, provinceUrl: string): Promise<{ ctx: ReportContext; receiver: Receiver; dir: string; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-report-'));
  await ensureDatabase(provinceUrl);
  await withClient(registryUrl, (c) => installCapture(c, spec));
  const receiver = await startReceiver(path.join(dir, 'received'));
  const ctx: ReportContext = { spec, registryUrl, provinceUrl, outboxDir: path.join(dir, 'outbox'), receiverUrl: receiver.url };
  await ensureReportSchema(ctx);
  return {
    ctx,
    receiver,
    dir,
    async close() {
      await receiver.close();
      await dropDatabase(registryUrl);
      await dropDatabase(provinceUrl);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
