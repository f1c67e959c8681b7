import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { copyTo } from '../lib/copy-to';
import { inTransaction, quoteIdent, quoteQualified, withClient } from '../lib/db';
import { binaryOf, encodeLine } from '../migration/copy-text';
import type { TableMapping } from '../migration/mapping';
import type { SourceAdapter, SourceItem } from '../migration/source';
import { isSourceRejection } from '../migration/source-rejection';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';

/**
 * 上线步骤1 备份旧库: the legacy data exported as it stood before migration — query only, never
 * deleted or updated — one COPY file per table, each with its row count and SHA-256 in a manifest.
 * Files and manifest are made read-only; the fallback later proves the legacy data against them.
 */
export interface BackupFile {
  table: string;
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  runId: string;
  createdAt: string;
  dir: string;
  files: BackupFile[];
}

const MANIFEST = 'manifest.json';

export function backupActivities(deps: ActivityDeps) {
  return {
    async backupLegacy(input: { runId: string }): Promise<BackupManifest> {
      const dir = path.join(deps.settings.BACKUP_DIR, safeSegment(input.runId), 'legacy');
      const manifestPath = path.join(dir, MANIFEST);
      if (fs.existsSync(manifestPath)) {
        // A retry after the manifest was written: the backup is complete, prove it rather than redo it.
        const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as BackupManifest;
        await verifyBackup(manifest);
        return manifest;
      }
      fs.mkdirSync(dir, { recursive: true });
      const files: BackupFile[] = [];
      const source = deps.legacySource;
      const exportTable = async (table: TableMapping, streams: Readable[]) => {
        const file = path.join(dir, `${table.source.table}.copy`);
        const tmp = `${file}.partial`;
        const counted = countingHash();
        await pipeline([...streams, counted.tap, fs.createWriteStream(tmp)]);
        if (fs.existsSync(file)) fs.chmodSync(file, 0o644);
        fs.renameSync(tmp, file);
        fs.chmodSync(file, 0o444);
        const f = { table: table.source.table, file, ...counted.result() };
        files.push(f);
        deps.logger.info({ table: f.table, rows: f.rows, bytes: f.bytes }, 'legacy table backed up');
      };
      // A full registry takes long to export: a dead worker's backup is taken over within the run's
      // heartbeat window, and redone whole (no manifest, no backup).
      await whileBeating(async () => {
        if (source.kind === 'postgres') {
          await withClient(deps.settings.LEGACY_DATABASE_URL, (client) =>
            // One snapshot for all tables, so the backup is consistent across them.
            inTransaction(
              client,
              async () => {
                for (const table of deps.mapping.tables) await exportTable(table, [client.query(copyTo(legacyExportSql(table.source.table, table.source.key)))]);
              },
              'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
            ),
          );
        } else {
          // No native dump runs here for Oracle: the product's own export, every table at one read point.
          const readPoint = await source.readPoint();
          for (const table of deps.mapping.tables) await exportTable(table, await adapterExport(source, table, readPoint));
        }
      }, () => ({ tablesDone: files.length }));
      const manifest: BackupManifest = { runId: input.runId, createdAt: new Date().toISOString(), dir, files };
      fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2), { mode: 0o444 });
      return manifest;
    },
  };
}

/** Counts the lines and hashes the bytes that pass through. */
export function countingHash(): { tap: Transform; result: () => { rows: number; bytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
      done(null, chunk);
    },
  });
  return { tap, result: () => ({ rows, bytes, sha256: hash.digest('hex') }) };
}

/**
 * The product's own logical export of a legacy table, for a legacy database whose native dump does not
 * run here (Oracle): every row as the adapter reads it at `readPoint`, one COPY text line each, in key
 * order — the mapping's columns, rendered as the migration reads them. A row the adapter cannot render
 * goes in as its raw text fields: a backup leaves nothing out. The same call gives the same bytes for
 * the same data, so the fallback checks the legacy data by exporting it again.
 */
export async function adapterExport(source: SourceAdapter, table: TableMapping, readPoint: string | null): Promise<Readable[]> {
  const rows = await source.readChunk(table, { id: 'backup', keyFrom: null, keyTo: null }, readPoint);
  const toText = new Transform({
    writableObjectMode: true,
    transform(batch: SourceItem[], _enc: BufferEncoding, done: TransformCallback) {
      // Rows are binary strings (copy-text.ts, CopyLine); a rejected row's raw fields are text.
      let text = '';
      for (const item of batch) text += (isSourceRejection(item) ? binaryOf(encodeLine(item.fields)) : item) + '\n';
      done(null, Buffer.from(text, 'latin1'));
    },
  });
  return [rows, toText];
}

/** The export both the backup and the fallback's check use: the same SQL gives the same bytes for the same data. */
export function legacyExportSql(table: string, key: string): string {
  return `COPY (SELECT * FROM ${quoteQualified(table)} ORDER BY ${quoteIdent(key)}) TO STDOUT`;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

export async function verifyBackup(manifest: BackupManifest): Promise<void> {
  for (const f of manifest.files) {
    const actual = fs.existsSync(f.file) ? await sha256File(f.file) : 'missing';
    if (actual !== f.sha256) {
      throw ApplicationFailure.nonRetryable(
        `backup file ${f.file} does not match its manifest (expected sha256 ${f.sha256}, found ${actual})`,
        'BackupTampered',
      );
    }
  }
}

/** Run ids become folder names: refuse anything that could climb out of the backup directory. */
function safeSegment(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
    throw ApplicationFailure.nonRetryable(`run id "${id}" cannot name a backup folder (letters, digits, . _ - only)`, 'BadRunId');
  }
  return id;
}
