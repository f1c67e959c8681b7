import { sourceKeyColumns } from '../migration/mapping';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { from as copyFrom } from 'pg-copy-streams';
import { copyTo } from '../lib/copy-to';
import { inTransaction, quoteQualified, withClient } from '../lib/db';
import { adapterExport, BackupFile, BackupManifest, countingHash, legacyExportSql, verifyBackup } from './backup';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/**
 * 回退步骤2 旧库数据核查与恢复: the legacy data proven against the pre-migration backup — a fresh export of
 * every table, counted and hashed exactly as the backup was — and restored from the backup files when it
 * differs. Restoring is the only write the runbook ever makes to the legacy database, and only to the
 * tables the manifest lists, from files whose own hashes were proven first.
 */
export interface LegacyTableCheck {
  table: string;
  expectedRows: number;
  rows: number;
  expectedSha256: string;
  sha256: string;
  ok: boolean;
}

export function readManifest(deps: ActivityDeps, runId: string): BackupManifest {
  const file = path.join(deps.settings.BACKUP_DIR, runId, 'legacy', 'manifest.json');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId) || !fs.existsSync(file)) {
    throw ApplicationFailure.nonRetryable(`no pre-migration backup manifest for run ${runId} (${file}): the legacy data cannot be proven`, 'NoBackup');
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BackupManifest;
}

export function legacyCheckActivities(deps: ActivityDeps) {
  /** A fresh export of every table in the manifest, counted and hashed exactly as the backup was. */
  async function check(manifest: BackupManifest): Promise<LegacyTableCheck[]> {
    const tables = manifest.files.map((f) => {
      const table = deps.mapping.tables.find((t) => t.source.table === f.table);
      if (!table) throw ApplicationFailure.nonRetryable(`backup table ${f.table} is not in the mapping`, 'ManifestMismatch');
      return { f, table };
    });
    const out: LegacyTableCheck[] = [];
    const compare = async (f: BackupFile, streams: Readable[]) => {
      const counted = countingHash();
      await pipeline([...streams, counted.tap, new Writable({ write: (_chunk, _enc, done) => done() })]);
      const { rows, sha256 } = counted.result();
      out.push({ table: f.table, expectedRows: f.rows, rows, expectedSha256: f.sha256, sha256, ok: rows === f.rows && sha256 === f.sha256 });
    };
    const source = deps.legacySource;
    if (source.kind === 'postgres') {
      await withClient(deps.settings.LEGACY_DATABASE_URL, (client) =>
        inTransaction(
          client,
          async () => {
            for (const { f, table } of tables) await compare(f, [client.query(copyTo(legacyExportSql(f.table, sourceKeyColumns(table.source))))]);
          },
          'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
        ),
      );
    } else {
      const readPoint = await source.readPoint();
      for (const { f, table } of tables) await compare(f, await adapterExport(source, table, readPoint));
    }
    return out;
  }

  return beating({
    /** Query only: counts and SHA-256 of a fresh export, per table, against the manifest. */
    async checkLegacyAgainstBackup(input: { runId: string }): Promise<LegacyTableCheck[]> {
      const result = await check(readManifest(deps, input.runId));
      deps.logger.info({ runId: input.runId, modified: result.filter((r) => !r.ok).map((r) => r.table) }, 'legacy data checked against the backup 旧库核查');
      return result;
    },

    /**
     * 恢复 Restore the tables that differ from their backup files, in one transaction (all or nothing),
     * then prove the result: a fresh export must match the manifest for every table.
     */
    async restoreLegacyFromBackup(input: { runId: string; tables: string[] }): Promise<LegacyTableCheck[]> {
      const manifest = readManifest(deps, input.runId);
      if (deps.legacySource.kind !== 'postgres') {
        // The runbook never writes to a legacy Oracle database: the DBA restores from the export files,
        // then the operator retries this step, which proves the result against the manifest.
        throw ApplicationFailure.nonRetryable(
          `the legacy ${deps.legacySource.kind} tables ${input.tables.join(', ')} differ from the backup; restore them from ${manifest.dir} (the runbook's own export, COPY text in key order) and retry this step`,
          'ManualRestore',
        );
      }
      await verifyBackup(manifest); // never restore from a backup file that itself changed
      const files = manifest.files.filter((f) => input.tables.includes(f.table));
      const unknown = input.tables.filter((t) => !files.some((f) => f.table === t));
      if (unknown.length) throw ApplicationFailure.nonRetryable(`cannot restore ${unknown.join(', ')}: not in the backup manifest`, 'ManifestMismatch');
      await withClient(deps.settings.LEGACY_DATABASE_URL, (client) =>
        inTransaction(client, async () => {
          await client.query(`TRUNCATE ${files.map((f) => quoteQualified(f.table)).join(', ')}`);
          for (const f of files) {
            await pipeline(fs.createReadStream(f.file), client.query(copyFrom(`COPY ${quoteQualified(f.table)} FROM STDIN`)));
          }
        }),
      );
      deps.logger.warn({ runId: input.runId, tables: input.tables }, 'legacy tables restored from the pre-migration backup 旧库恢复');
      const proof = await check(manifest);
      const still = proof.filter((p) => !p.ok);
      if (still.length) throw new Error(`after the restore, ${still.map((s) => s.table).join(', ')} still differ from the backup`);
      return proof;
    },
  });
}
