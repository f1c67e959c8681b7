import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStandbyConfig } from '../../standby/config';
import { healthAlerts, ReplicationHealth } from '../../standby/health';
import { trendSvg } from '../../standby/report';

const shipped = path.join(__dirname, '..', '..', 'config', 'standby.json');
const write = (obj: unknown) => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sbcfg-')), 'standby.json');
  fs.writeFileSync(f, JSON.stringify(obj));
  return f;
};

describe('config/standby.json 备点库配置', () => {
  it('the shipped file loads', () => {
    const c = loadStandbyConfig(shipped);
    expect(c.standby.slot).toBe('jm_standby');
    expect(c.dr.slot).toBe('jm_dr');
    // not in the file: a dead worker's segment is taken up after a minute without its heartbeat
    expect(c.consistency.heartbeatSeconds).toBe(60);
  });

  it('refuses unknown keys and bad values, naming each by its JSON path', () => {
    const c = JSON.parse(fs.readFileSync(shipped, 'utf8'));
    c.thresholds.lagMegabytes = 5;
    c.dialect = 'oracle';
    c.consistency.segmentRows = 0;
    c.standby.slot = 'Bad Slot';
    c.consistency.heartbeatSeconds = 2;
    let message = '';
    try {
      loadStandbyConfig(write(c));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/thresholds\.lagMegabytes: unknown property/);
    expect(message).toMatch(/dialect: /);
    expect(message).toMatch(/consistency\.segmentRows: /);
    expect(message).toMatch(/standby\.slot: /);
    expect(message).toMatch(/consistency\.heartbeatSeconds: /);
  });
});

describe('alert rules', () => {
  const healthy: ReplicationHealth = {
    at: '2026-12-01T00:00:00Z',
    primaryLsn: '0/3000000',
    streaming: true,
    senderState: 'streaming',
    replayLsn: '0/3000000',
    lagBytes: 0,
    lagSeconds: 0,
    slot: { name: 'jm_standby', exists: true, active: true, retainedWalBytes: 1000, walStatus: 'reserved' },
    standby: { reachable: true, inRecovery: true, replayLsn: '0/3000000', receiveLsn: '0/3000000' },
  };
  const t = { lagBytes: 1 << 20, lagSeconds: 10, retainedWalBytes: 1 << 30 };
  it('a healthy standby raises nothing; each threshold crossed raises its own alert with what to do', () => {
    expect(healthAlerts(healthy, t, 'standby')).toEqual([]);
    const kinds = (h: Partial<ReplicationHealth>) => healthAlerts({ ...healthy, ...h }, t, 'standby').map((a) => a.kind);
    expect(kinds({ lagBytes: 2 << 20 })).toEqual(['lag_bytes']);
    expect(kinds({ lagSeconds: 11 })).toEqual(['lag_seconds']);
    expect(kinds({ slot: { ...healthy.slot, retainedWalBytes: 2 * 2 ** 30 } })).toEqual(['retained_wal']);
    expect(kinds({ slot: { ...healthy.slot, exists: false } })).toEqual(['slot_missing']);
    expect(kinds({ streaming: false, senderState: null })).toEqual(['not_streaming']);
    for (const a of healthAlerts({ ...healthy, streaming: false, lagBytes: 5 << 20 }, t, 'standby')) expect(a.action.length).toBeGreaterThan(30);
  });
});

it('the trend plot draws one point per check and marks the checks that were not streaming', () => {
  const p = (i: number, streaming = true) => ({ at: `2026-12-01T0${i}:00:00Z`, workflowId: `w${i}`, copy: 'standby', lagBytes: i * 1000, lagSeconds: i, retainedWalBytes: i * 2000, streaming, consistent: true, differingSegments: 0 });
  expect(trendSvg([p(1)])).toBe('');
  const svg = trendSvg([p(1), p(2, false), p(3)]);
  expect(svg.match(/<polyline/g)).toHaveLength(2);
  expect(svg.match(/<circle/g)).toHaveLength(1);
  expect(svg).toMatch(/points="([\d.]+,[\d.]+ ){2}[\d.]+,[\d.]+"/);
});
