import fs from 'node:fs';
import path from 'node:path';
import { pgStandby, ReplicaLayout, ReplicaScriptRefusal } from '../../standby/replicas';
import { freePort, PrivateCluster, tempRoot } from '../support/private-cluster';

/**
 * scripts/pg-standby.sh and a port answered by a server that is not its layout's instance (issue #18): another
 * checkout's primary on the same port, a stray cluster on a replica's port. A real second cluster (initdb on a free
 * port) answers there; the script refuses, naming that server's data directory (SHOW data_directory), builds
 * nothing from it and reports it as what it is — unless STANDBY_PRIMARY_EXTERNAL=1 says it is the primary meant.
 */
let root: string;
let foreign: PrivateCluster;
const layouts: ReplicaLayout[] = [];

const layout = (name: string, ports: { primary: number; standby: number; dr: number }, externalPrimary = false): ReplicaLayout => {
  const l = { dir: path.join(root, name), primaryPort: ports.primary, standbyPort: ports.standby, drPort: ports.dr, slot: 'jm_fp_standby', drSlot: 'jm_fp_dr', externalPrimary };
  layouts.push(l);
  return l;
};
const refusal = (l: ReplicaLayout, args: string[]) =>
  pgStandby(l, args, 120_000).then(
    () => {
      throw new Error(`pg-standby.sh ${args.join(' ')} went ahead with a foreign server on a port of ${l.dir}`);
    },
    (err: Error) => err.message,
  );
const slotsOn = (c: PrivateCluster) => c.psql(`SELECT coalesce(string_agg(slot_name, ',' ORDER BY slot_name), '') FROM pg_replication_slots`);

beforeAll(() => {
  root = tempRoot('jm-foreign-');
  foreign = new PrivateCluster(path.join(root, 'other-checkout'), 0);
}, 10_000);

afterAll(async () => {
  for (const l of layouts) await pgStandby(l, ['down'], 120_000).catch(() => undefined);
  foreign?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
}, 180_000);

it('a primary port answered by another cluster is refused, naming its data directory; STANDBY_PRIMARY_EXTERNAL=1 uses it on purpose', async () => {
  foreign.init().start(await freePort());
  const ports = { primary: foreign.port, standby: await freePort(), dr: await freePort() };
  const mine = layout('mine', ports);

  const message = await refusal(mine, ['up']);
  expect(message).toContain(`127.0.0.1:${foreign.port} is answered by another server, data directory ${foreign.data}`);
  expect(message).toMatch(/STANDBY_PRIMARY_EXTERNAL=1/);
  // nothing was made, and nothing was taken from the other server
  expect(fs.existsSync(path.join(mine.dir, 'primary', 'PG_VERSION'))).toBe(false);
  expect(fs.existsSync(path.join(mine.dir, 'standby'))).toBe(false);
  expect(slotsOn(foreign)).toBe('');

  // said on purpose: the same server is the primary, and both copies stream from it
  const external = layout('external', ports, true);
  const up = await pgStandby(external, ['up'], 120_000);
  expect(up.actions.join('\n')).toMatch(new RegExp(`primary: the external server on 127.0.0.1:${foreign.port}`));
  expect((await pgStandby(external, ['status'])).stdout).toMatch(new RegExp(`^standby port=${ports.standby} running standby$`, 'm'));
  expect(slotsOn(foreign)).toBe('jm_fp_dr,jm_fp_standby');
  await pgStandby(external, ['down'], 120_000);
  expect(slotsOn(foreign)).toBe('');
}, 120_000);

it('a standby port answered by another cluster is refused before any copy is made, and a stopped copy whose port was taken is not "started"', async () => {
  const ports = { primary: await freePort(), standby: foreign.port, dr: await freePort() };
  const mine = layout('replica-ports', ports);

  const message = await refusal(mine, ['up']);
  expect(message).toContain(`127.0.0.1:${foreign.port} is answered by another server, data directory ${foreign.data}, not by standby of this layout (${mine.dir}/standby)`);
  expect(message).not.toMatch(/STANDBY_PRIMARY_EXTERNAL/); // that is for the primary only
  // our primary came up; no copy, no slot for it on our primary, nothing touched on the other server
  expect((await pgStandby(mine, ['status'])).stdout.trim()).toBe(`primary port=${ports.primary} running primary`);
  expect(fs.existsSync(path.join(mine.dir, 'standby', 'PG_VERSION'))).toBe(false);
  expect(slotsOn(foreign)).toBe('');

  // the standby on a free port: built and running
  const moved = { ...mine, standbyPort: await freePort() };
  layouts.push(moved);
  await pgStandby(moved, ['up'], 120_000);
  expect((await pgStandby(moved, ['status'])).stdout).toMatch(new RegExp(`^standby port=${moved.standbyPort} running standby$`, 'm'));
  // stopped, and its port taken by the other cluster (another checkout started there meanwhile)
  await pgStandby(moved, ['stop', 'standby']);
  foreign.stop();
  foreign.start(moved.standbyPort);
  expect(await refusal(moved, ['start', 'standby'])).toContain(`127.0.0.1:${moved.standbyPort} is answered by another server, data directory ${foreign.data}`);
  expect(await refusal(moved, ['up'])).toContain(`data directory ${foreign.data}, not by standby of this layout`);
  // status says whose server answers there instead of reporting it as our standby
  expect((await pgStandby(moved, ['status'])).stdout).toMatch(new RegExp(`^standby port=${moved.standbyPort} port-taken by:${foreign.data}$`, 'm'));
}, 120_000);

it('a new instance is refused a port in the ephemeral range (status 2, a refusal the drill does not retry), and an instance that will not start says why from its log', async () => {
  const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const inRange = { primary: lo + 1000, standby: await freePort(), dr: await freePort() };
  const risky = layout('ephemeral', inRange);
  const err = await pgStandby(risky, ['up'], 120_000).then(() => null, (e: Error) => e);
  expect(err).toBeInstanceOf(ReplicaScriptRefusal);
  expect(err?.message).toContain(`port ${lo + 1000} for primary lies in this machine's ephemeral port range ${lo}-${hi}`);
  expect(err?.message).toContain(`choose a port below ${lo}`);
  expect(fs.existsSync(path.join(risky.dir, 'primary'))).toBe(false);

  // below the range: built; then a setting the server rejects, and `start` carries the server's own words
  const safe = layout('broken-conf', { primary: await freePort(), standby: await freePort(), dr: await freePort() });
  await pgStandby(safe, ['up'], 120_000);
  const clone = await pgStandby(safe, ['clone', 'dr', 'drill', String(lo + 2000)], 120_000).then(() => null, (e: Error) => e);
  expect(clone).toBeInstanceOf(ReplicaScriptRefusal);
  expect(fs.existsSync(path.join(safe.dir, 'drill'))).toBe(false);
  await pgStandby(safe, ['stop', 'dr']);
  fs.appendFileSync(path.join(safe.dir, 'dr', 'postgresql.auto.conf'), 'no_such_setting_jm = on\n');
  const start = await pgStandby(safe, ['start', 'dr'], 120_000).then(() => null, (e: Error) => e);
  expect(start).not.toBeInstanceOf(ReplicaScriptRefusal);
  expect(start?.message).toMatch(/dr did not start on 127\.0\.0\.1:\d+; its log says: .*no_such_setting_jm/);
}, 180_000);
