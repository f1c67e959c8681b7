import type { PreflightProblem } from '../source';
import { oracleIdent, oracleObject } from './sql';

/**
 * 备份旧库 The backup of record for an Oracle legacy: the DBA's Data Pump export (expdp) of every mapped
 * table AS OF the run's SCN — a dump Oracle itself restores (impdp … TABLE_EXISTS_ACTION=REPLACE), with
 * every column as stored, which the runbook's own adapter export (the independent check) is not.
 *
 * No Oracle tools run on the runbook's machines, so the runbook writes the parameter file (with the run's
 * FLASHBACK_SCN) for the DBA, and then checks what the DBA hands back: the log says the job completed
 * without errors, every table is in it with the row count the runbook counts AS OF the same SCN, and the
 * dump files' SHA-256 are recorded so a later restore can prove it uses the same files.
 */
export interface ExpdpInput {
  /** legacy owner, e.g. JMLEGACY */
  schema: string;
  /** legacy table names (the mapping's source tables) */
  tables: string[];
  /** the run's read point */
  scn: string;
  runId: string;
  /** Oracle DIRECTORY object the DBA writes to (DATA_PUMP_DIR by default) */
  directory?: string;
}

/**
 * A mapped legacy table as Data Pump and its log name it: OWNER.TABLE, unquoted upper case as oracleIdent
 * checks it; `schema.table` in the mapping keeps its own owner, a bare name is in `schema`.
 */
export function dataPumpTable(schema: string, table: string): string {
  const object = oracleObject(schema, table);
  return `${oracleIdent(object.owner ?? schema).slice(1, -1)}.${oracleIdent(object.name).slice(1, -1)}`;
}

export function expdpParfile(input: ExpdpInput): string {
  if (!/^\d+$/.test(input.scn)) throw new Error(`FLASHBACK_SCN "${input.scn}" is not an SCN`);
  if (!/^[A-Za-z0-9._-]+$/.test(input.runId)) throw new Error(`run id "${input.runId}" cannot name a dump file`);
  if (!input.tables.length) throw new Error('no tables to export');
  const tables = input.tables.map((t) => dataPumpTable(input.schema, t));
  const directory = oracleIdent(input.directory ?? 'DATA_PUMP_DIR').slice(1, -1);
  const name = `jm_${input.runId.replace(/[.-]/g, '_')}`;
  return [
    `# 备份旧库 Data Pump export of record for run ${input.runId}: every mapped table as of the run's SCN.`,
    `# Run as a user with EXP_FULL_DATABASE (or DATAPUMP_EXP_FULL_DATABASE): expdp USER parfile=${name}.par`,
    `# Then hand ${name}.log and the ${name}_NN.dmp files back to the runbook (oracle:datapump check).`,
    `TABLES=${tables.join(',')}`,
    `FLASHBACK_SCN=${input.scn}`,
    `DIRECTORY=${directory}`,
    `DUMPFILE=${name}_%U.dmp`,
    `LOGFILE=${name}.log`,
    'FILESIZE=16G',
    'CONTENT=ALL',
    'EXCLUDE=STATISTICS',
    'METRICS=YES',
    '',
  ].join('\n');
}

export interface ExpdpLog {
  /** "OWNER.TABLE" → rows (partitions summed) */
  rows: Map<string, number>;
  completed: boolean;
  /** "completed with N error(s)" or ORA- lines */
  errors: string[];
}

// ". . exported "JMLEGACY"."E_BASEINFO"   1.234 GB 30123456 rows" (partitions: "T":"P2019")
const EXPORTED_RE = /^\. \. exported "([^"]+)"\."([^"]+)"(?::"[^"]+")?\s+[\d.]+\s+[KMGT]?B\s+(\d+)\s+rows/;
const JOB_DONE_RE = /^Job "[^"]+"\."[^"]+" (successfully completed|completed with (\d+) error\(s\))/;

export function parseExpdpLog(text: string): ExpdpLog {
  const rows = new Map<string, number>();
  const errors: string[] = [];
  let completed = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const m = EXPORTED_RE.exec(line);
    if (m) {
      const key = `${m[1]}.${m[2]}`;
      rows.set(key, (rows.get(key) ?? 0) + Number(m[3]));
      continue;
    }
    const done = JOB_DONE_RE.exec(line);
    if (done) {
      if (done[1] === 'successfully completed') completed = true;
      else errors.push(line);
      continue;
    }
    if (/^(ORA|UDE|KUP)-\d+/.test(line)) errors.push(line);
  }
  return { rows, completed, errors };
}

/**
 * The Data Pump export against the runbook's own counts AS OF the same SCN: every problem at once.
 * expected: "OWNER.TABLE" → COUNT(*) AS OF SCN.
 */
export function checkExpdp(log: ExpdpLog, expected: Map<string, number>, dumpFiles: string[]): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const redo = 'the DBA runs the export again with the parameter file the runbook wrote';
  if (!log.completed) problems.push({ where: 'datapump.log', problem: 'the log does not say the job "successfully completed"', action: redo });
  for (const e of log.errors) problems.push({ where: 'datapump.log', problem: e, action: redo });
  if (!dumpFiles.length) problems.push({ where: 'datapump.files', problem: 'no dump files (*.dmp) were handed back', action: 'copy the dump files next to the log' });
  for (const [table, count] of expected) {
    const exported = log.rows.get(table);
    if (exported === undefined) problems.push({ where: `datapump.${table}`, problem: `${table} is not in the export log`, action: redo });
    else if (exported !== count) {
      problems.push({
        where: `datapump.${table}`,
        problem: `${table}: the export has ${exported} rows, COUNT(*) AS OF the run's SCN is ${count} — not the run's read point?`,
        action: redo,
      });
    }
  }
  return problems;
}
