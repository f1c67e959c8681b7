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
import { sourceKeyColumns } from '../migration/mapping';
import { checkExpdp, dataPumpTable, expdpParfile, parseExpdpLog } from '../migration/oracle/datapump';
import { OracleSource } from '../migration/oracle/oracle-source';
import type { PreflightProblem, SourceAdapter, SourceItem } from '../migration/source';
import { isSourceRejection } from '../migration/source-rejection';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';
import { readPointActivities, runReadPoint, safeSegment } from './read-point';

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
  /** Oracle: the Data Pump parameter file written for the DBA (the backup of record, datapump.ts) */
  dataPumpParfile?: string;
  /** the run's legacy read point the backup was taken at (Oracle SCN; null: none, PostgreSQL) — the same one the migration and the verification read at */
  readPoint?: string | null;
}

const MANIFEST = 'manifest.json';

export function backupActivities(deps: ActivityDeps) {
  return {
    ...dataPumpActivities(deps),
    ...readPointActivities(deps),
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
      let dataPumpParfile: string | undefined;
      const source = deps.legacySource;
      // the run's one read point: pinned here, read again by every table's plan and by the verification
      const { readPoint } = await runReadPoint(deps, input.runId);
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
                for (const table of deps.mapping.tables) await exportTable(table, [client.query(copyTo(legacyExportSql(table.source.table, sourceKeyColumns(table.source))))]);
              },
              'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
            ),
          );
        } else {
          // No native dump runs here for Oracle: the product's own export, every table at the run's read point,
          // as the independent check; the backup of record is the DBA's Data Pump export at the same SCN.
          for (const table of deps.mapping.tables) {
            const streams = await adapterExport(source, table, readPoint, (omitted) =>
              deps.logger.warn({ table: table.source.table, omitted }, 'legacy columns of types the adapter cannot read are not in the adapter export (the Data Pump export holds them)'),
            );
            await exportTable(table, streams);
          }
          if (source instanceof OracleSource && readPoint) {
            dataPumpParfile = path.join(dir, `expdp-${input.runId}.par`);
            const parfile = expdpParfile({
              schema: source.options.schema ?? source.options.user,
              tables: deps.mapping.tables.map((t) => t.source.table),
              scn: readPoint,
              runId: input.runId,
            });
            if (fs.existsSync(dataPumpParfile)) fs.chmodSync(dataPumpParfile, 0o644);
            fs.writeFileSync(dataPumpParfile, parfile, { mode: 0o444 });
          }
        }
      }, () => ({ tablesDone: files.length }));
      const manifest: BackupManifest = { runId: input.runId, createdAt: new Date().toISOString(), dir, files, readPoint, ...(dataPumpParfile ? { dataPumpParfile } : {}) };
      fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2), { mode: 0o444 });
      return manifest;
    },
  };
}

/**
 * The DBA's Data Pump export of an Oracle legacy (the backup of record), handed back into
 * BACKUP_DIR/<runId>/datapump/ (the .log and the .dmp files): checked against the runbook's own
 * COUNT(*) AS OF the run's SCN, the dump files' SHA-256 recorded in datapump.json (read-only), every
 * problem at once. Not yet a cutover step: run it as an activity before the wipe gate.
 */
export interface DataPumpCheck {
  runId: string;
  readPoint: string;
  ok: boolean;
  problems: PreflightProblem[];
  rows: Record<string, number>;
  files: { file: string; bytes: number; sha256: string }[];
}

function dataPumpActivities(deps: ActivityDeps) {
  return {
    async checkLegacyDataPump(input: { runId: string }): Promise<DataPumpCheck> {
      const source = deps.legacySource;
      if (!(source instanceof OracleSource)) throw ApplicationFailure.nonRetryable('the Data Pump check is for an Oracle legacy database', 'UnsupportedLegacy');
      const { readPoint } = await runReadPoint(deps, input.runId);
      if (!readPoint) throw ApplicationFailure.nonRetryable(`run ${input.runId} has no SCN read point`, 'NoReadPoint');
      const dir = path.join(deps.settings.BACKUP_DIR, safeSegment(input.runId), 'datapump');
      const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
      const logs = names.filter((n) => n.endsWith('.log'));
      if (logs.length !== 1) {
        throw ApplicationFailure.nonRetryable(`${dir} must hold the export's one .log file (found ${logs.length}): the DBA hands back the log and the .dmp files`, 'NoDataPumpExport');
      }
      const log = parseExpdpLog(fs.readFileSync(path.join(dir, logs[0]), 'utf8'));
      const owner = source.options.schema ?? source.options.user;
      const expected = new Map<string, number>();
      await whileBeating(async () => {
        for (const t of deps.mapping.tables) expected.set(dataPumpTable(owner, t.source.table), await source.countRows(t, readPoint));
      });
      const files = [];
      for (const n of names.filter((x) => x.endsWith('.dmp'))) {
        const file = path.join(dir, n);
        files.push({ file, bytes: fs.statSync(file).size, sha256: await sha256File(file) });
      }
      const problems = checkExpdp(log, expected, files.map((f) => f.file));
      const result: DataPumpCheck = { runId: input.runId, readPoint, ok: problems.length === 0, problems, rows: Object.fromEntries(log.rows), files };
      const record = path.join(dir, 'datapump.json');
      if (fs.existsSync(record)) fs.chmodSync(record, 0o644);
      fs.writeFileSync(record, JSON.stringify(result, null, 2), { mode: 0o444 });
      return result;
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
 * the same data, so the fallback checks the legacy data by exporting it again. The Oracle adapter exports
 * every column of the table raw instead (OracleSource.exportRaw); onOmitted hears of columns it cannot read.
 */
export async function adapterExport(source: SourceAdapter, table: TableMapping, readPoint: string | null, onOmitted?: (columns: string[]) => void): Promise<Readable[]> {
  if (source instanceof OracleSource) {
    // Oracle: every column as stored (a DATE keeps its time of day), ordered by key then ROWID (OracleSource.exportRaw)
    const { stream, omitted } = await source.exportRaw(table, readPoint);
    if (omitted.length) onOmitted?.(omitted);
    return [stream];
  }
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
/** key: the key column, or every column of a composite key (复合主键), so the order is one order whatever ties the first column has */
export function legacyExportSql(table: string, key: string | string[]): string {
  const columns = Array.isArray(key) ? key : [key];
  // 无键表 a keyless table (no key columns): ordered by the whole row, the same order on every export of the same rows
  if (!columns.length) return `COPY (SELECT x.* FROM ${quoteQualified(table)} x ORDER BY x::text COLLATE "C") TO STDOUT`;
  return `COPY (SELECT * FROM ${quoteQualified(table)} ORDER BY ${columns.map(quoteIdent).join(', ')}) TO STDOUT`;
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
