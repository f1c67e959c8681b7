import { randomBytes, randomUUID } from 'node:crypto';
import { CorrectionSetRecord, correctionSetProblem, sheetDigest, sheetSubject } from '../../migration/correction-ledger';
import { signDecision } from '../../lib/decision-signing';
import { CorrectionSheet, correctionSheetSchema, parseCorrectionCsv } from '../../migration/corrections';

/** 整改单 The sheet's CSV reading, and the admission rules a remediation run applies to a stored sheet. */
describe('corrections sheet (整改单)', () => {
  it('reads a CSV as Excel saves it: BOM, CRLF, quoted commas, an empty value as NULL', () => {
    const out = parseCorrectionCsv('\ufefftable,key,column,value\r\nmarket_entity,JM1,regcap,10万\r\nmarket_entity,JM2,dom,"江门市,蓬江区"\r\nmarket_entity,JM3,apprdate,\r\n');
    expect(out).toEqual({
      ok: true,
      corrections: [
        { table: 'market_entity', key: 'JM1', column: 'regcap', value: '10万' },
        { table: 'market_entity', key: 'JM2', column: 'dom', value: '江门市,蓬江区' },
        { table: 'market_entity', key: 'JM3', column: 'apprdate', value: null },
      ],
    });
  });

  it('names the line and the field of what it cannot take', () => {
    expect(parseCorrectionCsv('tbl,key,column,value\r\n')).toMatchObject({ ok: false, field: 'body[line 1]', problem: expect.stringContaining('table,key,column,value') });
    expect(parseCorrectionCsv('table,key,column,value\r\nMarket Entity,JM1,regcap,1\r\n')).toMatchObject({ ok: false, field: 'body[line 2].table' });
    expect(parseCorrectionCsv('table,key,column,value\r\nmarket_entity,JM1,regcap\r\n')).toMatchObject({ ok: false, field: 'body' });
    expect(correctionSheetSchema.safeParse({ reason: 'nothing here' }).success).toBe(false);
    expect(correctionSheetSchema.safeParse({ reason: 'ok then', corrections: [], extra: 1 }).success).toBe(false);
  });

  describe('admission of a stored sheet (signatures, four-eyes)', () => {
    const key = randomBytes(32).toString('base64url');
    const sheet: CorrectionSheet = { reason: '营业执照核对', corrections: [{ table: 'market_entity', key: 'JM1', column: 'regcap', value: '10万' }], codeMappings: [] };
    const record = (approver: string | undefined, over: Partial<CorrectionSetRecord> = {}, signWith = key): CorrectionSetRecord => {
      const sha = sheetDigest(sheet);
      const sign = (gate: string, decision: string, actor: string, role: string) =>
        signDecision({ workflowId: sheetSubject('s1'), gate, decision, actor, role, reason: sha, issuedAt: new Date().toISOString(), nonce: randomUUID() }, signWith);
      const decision = approver ? { actor: approver, role: 'approver', decision: 'approve' as const, reason: null, at: new Date().toISOString(), signed: sign('approve', 'approve', approver, 'approver') } : undefined;
      return { id: 's1', at: '', uploadedBy: 'olivia.ops', uploadedRole: 'operator', reason: sheet.reason, sheet, sha256: sha, upload: sign('upload', 'upload', 'olivia.ops', 'operator'), status: approver ? 'approved' : 'awaiting_approval', decision, corrections: 1, codeMappings: 0, ...over };
    };

    it('admits a sheet approved by someone other than its uploader, both signed by the API', () => {
      expect(correctionSetProblem(record('li.approver'), [key])).toBeNull();
      // the digest does not depend on the order jsonb gives the keys back in
      expect(sheetDigest(JSON.parse(JSON.stringify({ codeMappings: [], corrections: sheet.corrections, reason: sheet.reason })))).toBe(sheetDigest(sheet));
    });

    it('refuses an unapproved sheet, the uploader approving their own, content changed after approval, and signatures not the API’s', () => {
      expect(correctionSetProblem(record(undefined), [key])).toMatch(/not approved yet/);
      expect(correctionSetProblem(record('olivia.ops'), [key])).toMatch(/four-eyes: olivia\.ops uploaded/);
      const changed = record('li.approver');
      changed.sheet = { ...sheet, corrections: [{ ...sheet.corrections[0], value: '99万' }] };
      expect(correctionSetProblem(changed, [key])).toMatch(/not the one uploaded/);
      expect(correctionSetProblem(record('li.approver', {}, randomBytes(32).toString('base64url')), [key])).toMatch(/not the API's/);
      const relabelled = record('li.approver');
      relabelled.decision = { ...relabelled.decision!, actor: 'someone.else' };
      expect(correctionSetProblem(relabelled, [key])).toMatch(/another sheet, decision or approver/);
    });
  });
});
