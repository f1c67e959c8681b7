import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DedicatedTemporal } from '../support/temporal-server';

/**
 * scripts/temporal-dev.sh (the demo's and the tests' Temporal server) and a database file whose schema was never
 * completed. The fixture is a real one: a first start that failed half-way through creating its tables (here a
 * SQLite "disk I/O error" while a killed server's clean-up removed its journal). Every later start failed on it
 * ("no such table: cluster_metadata_info") until someone deleted the file. Now the script sets such a file aside
 * (it holds no runs) and starts on a new one.
 */
let temporal: DedicatedTemporal;
afterAll(async () => {
  await temporal?.dispose();
}, 60_000);

it('a half-made database file is set aside, the server starts on a new one, and the next start reuses it', async () => {
  temporal = new DedicatedTemporal();
  const db = path.join(temporal.stateDir, 'temporal.db');
  fs.writeFileSync(db, gunzipSync(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'temporal-unfinished.db.gz'))));
  await temporal.start();
  expect(temporal.lastOutput).toMatch(/no such table: cluster_metadata_info/);
  expect(temporal.lastOutput).toMatch(/its database file was never completed \(no runs in it\): set aside as .*temporal\.db\.unfinished-\d{8}T\d{6}; starting on a new one/);
  expect(temporal.lastOutput).toMatch(/ready: 127\.0\.0\.1:\d+/);
  const aside = fs.readdirSync(temporal.stateDir).filter((f) => f.startsWith('temporal.db.unfinished-'));
  expect(aside).toHaveLength(1);
  expect(fs.statSync(path.join(temporal.stateDir, aside[0])).size).toBe(151_552); // kept as it was, not deleted
  await temporal.start();
  expect(temporal.lastOutput).toMatch(/reusing the Temporal server already answering/);
}, 120_000);
