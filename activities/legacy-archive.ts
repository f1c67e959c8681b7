import { sourceKeyColumns } from '../migration/mapping';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { from as copyFrom } from 'pg-copy-streams';
import { copyTo } from '../lib/copy-to';
import { ensureDatabase, inTransaction, quoteIdent, quoteQualified, withClient } from '../lib/db';
import { BackupManifest, countingHash, legacyExportSql, verifyBackup } from './backup';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';
import { readManifest } from './legacy-check';

/**
 * 查询库 The pre-migration backup restored into a database staff can query for traceability (问题分析和
 * 追溯) while the legacy database is query-only: built from the manifest's files (their hashes proven
 * first), each table exported again from the archive and compared with the manifest (rows and SHA-256),
 * then made read-only (default_transaction_read_only, proven by a refused write in a new session). The
 * archive database is only ever (re)created when absent or marked as an archive the runbook built (a
 * later run's backup replaces an earlier run's archive; any other database of that name is refused).
 */
export interface LegacyArchive {
  database: string;
  tables: { table: string; rows: number; sha256: string; ok: boolean }[];
  readOnlyProof: string;
}

const MARK = (runId: string) => `jm-legacy-archive run ${runId}`;

function dbName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

export function legacyArchiveActivities(deps: ActivityDeps) {
  return beating({
    async buildLegacyArchive(input: { runId: string }): Promise<LegacyArchive> {
      const { settings } = deps;
      const archive = dbName(settings.ARCHIVE_DATABASE_URL);
      for (const [name, url] of [['legacy', settings.LEGACY_DATABASE_URL], ['target', settings.TARGET_DATABASE_URL], ['runbook', settings.RUNBOOK_DATABASE_URL]] as const) {
        const u = new URL(url);
        const a = new URL(settings.ARCHIVE_DATABASE_URL);
        if (u.host === a.host && dbName(url) === archive) throw ApplicationFailure.nonRetryable(`ARCHIVE_DATABASE_URL names the ${name} database (${archive}): refused`, 'ArchiveIsNotSeparate');
      }
      if (deps.legacySource.kind !== 'postgres') {
        throw ApplicationFailure.nonRetryable('the archive is built from a PostgreSQL legacy catalog; for an Oracle legacy, the DBA restores the export files (COPY text in key order, see the manifest) into the archive and this step is continued', 'ManualArchive');
      }
      const manifest: BackupManifest = readManifest(deps, input.runId);
      await verifyBackup(manifest);
      const admin = new URL(settings.ARCHIVE_DATABASE_URL);
      admin.pathname = '/postgres';
      await withClient(admin.toString(), async (c) => {
        const { rows } = await c.query<{ mark: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`, [archive]);
        if (rows.length && !rows[0].mark?.startsWith(MARK(''))) {
          throw ApplicationFailure.nonRetryable(`database ${archive} exists and is not an archive the runbook built (${rows[0].mark ?? 'no mark'}): refused to replace it`, 'ArchiveExists');
        }
        // An earlier attempt of this run, or an earlier run's (a rehearsal's) archive: the newest backup replaces it.
        if (rows.length) await c.query(`DROP DATABASE ${quoteIdent(archive)} WITH (FORCE)`);
      });
      await ensureDatabase(settings.ARCHIVE_DATABASE_URL);
      // Marked as ours at once: an attempt that fails half-way leaves a database the retry may replace.
      await withClient(admin.toString(), (c) => c.query(`COMMENT ON DATABASE ${quoteIdent(archive)} IS '${MARK(input.runId).replace(/'/g, "''")}'`));
      // Table definitions as the legacy database has them (types and collations: the key order must match the backup's).
      const ddl = await withClient(settings.LEGACY_DATABASE_URL, async (c) => {
        const out: string[] = [];
        for (const f of manifest.files) {
          const source = deps.mapping.tables.find((t) => t.source.table === f.table)!.source;
          const key = sourceKeyColumns(source);
          const { rows } = await c.query<{ name: string; type: string; collation: string | null }>(
            `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                    CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END AS collation
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
            [quoteQualified(f.table)],
          );
          const cols = rows.map((r) => `${quoteIdent(r.name)} ${r.type}${r.collation ? ` COLLATE ${quoteIdent(r.collation)}` : ''}`);
          // A schema-qualified legacy table (registry.e_baseinfo) keeps its schema in the archive.
          if (f.table.includes('.')) out.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(f.table.split('.')[0])}`);
          // 无键表 a keyless table has no primary key in the archive either
          out.push(`CREATE TABLE ${quoteQualified(f.table)} (${cols.join(', ')}${key.length ? `, PRIMARY KEY (${key.map(quoteIdent).join(', ')})` : ''})`);
        }
        return out;
      });
      const tables: LegacyArchive['tables'] = [];
      await withClient(settings.ARCHIVE_DATABASE_URL, async (c) => {
        await inTransaction(c, async () => {
          for (const sql of ddl) await c.query(sql);
          for (const f of manifest.files) await pipeline(fs.createReadStream(f.file), c.query(copyFrom(`COPY ${quoteQualified(f.table)} FROM STDIN`)));
        });
        for (const f of manifest.files) {
          const source = deps.mapping.tables.find((t) => t.source.table === f.table)!.source;
          const key = sourceKeyColumns(source);
          const counted = countingHash();
          await pipeline([c.query(copyTo(legacyExportSql(f.table, key))), counted.tap, new Writable({ write: (_b, _e, done) => done() })]);
          const r = counted.result();
          tables.push({ table: f.table, rows: r.rows, sha256: r.sha256, ok: r.rows === f.rows && r.sha256 === f.sha256 });
        }
        await c.query(`COMMENT ON DATABASE ${quoteIdent(archive)} IS '${MARK(input.runId).replace(/'/g, "''")}'`);
        await c.query(`ALTER DATABASE ${quoteIdent(archive)} SET default_transaction_read_only = on`);
      });
      const bad = tables.filter((t) => !t.ok);
      if (bad.length) throw ApplicationFailure.nonRetryable(`查询库与备份不符 the archive differs from the backup manifest: ${bad.map((b) => b.table).join(', ')}`, 'ArchiveMismatch');
      // A new session (as staff would open) must refuse a write.
      const first = manifest.files[0];
      const readOnlyProof = await withClient(settings.ARCHIVE_DATABASE_URL, async (c) => {
        try {
          await c.query(`DELETE FROM ${quoteQualified(first.table)}`);
        } catch (err) {
          return `DELETE FROM ${first.table} refused: ${(err as Error).message}`;
        }
        throw ApplicationFailure.nonRetryable(`the archive ${archive} accepted a write: it is not read-only`, 'ArchiveWritable');
      });
      deps.logger.info({ runId: input.runId, archive, tables: tables.length }, '查询库 legacy archive built from the backup and verified');
      return { database: archive, tables, readOnlyProof };
    },
  });
}
