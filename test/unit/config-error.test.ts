import { ApplicationFailure } from '@temporalio/common';
import { configErrorFromSql } from '../../activities/preflight';
import { didYouMean, editDistance } from '../../lib/config-file';

describe('configuration errors 配置错误', () => {
  it('turns what the server refuses as wrong (SQLSTATE class 42) into a non-retryable ConfigError, and leaves the rest to retry', () => {
    const undefinedColumn = Object.assign(new Error('column "entnmae" does not exist'), { code: '42703' });
    const failure = configErrorFromSql(undefinedColumn) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'ConfigError' });
    expect(failure.message).toContain('column "entnmae" does not exist (SQLSTATE 42703)');
    const noOperator = Object.assign(new Error('operator does not exist: bigint = text'), { code: '42883' });
    expect(configErrorFromSql(noOperator)).toMatchObject({ nonRetryable: true, type: 'ConfigError' });
    // a dropped connection, a deadlock, a plain error: retried as before
    for (const err of [Object.assign(new Error('terminating connection'), { code: '57P01' }), Object.assign(new Error('deadlock'), { code: '40P01' }), new Error('ECONNRESET')]) {
      expect(configErrorFromSql(err)).toBe(err);
    }
  });

  it('suggests the name meant for slips of the keyboard, and nothing for unrelated words', () => {
    expect(editDistance('entnmae', 'entname')).toBe(1);
    expect(didYouMean('requried', ['target', 'type', 'source', 'codeTable', 'clean', 'required'])).toBe('required');
    expect(didYouMean('codetable', ['codeTable', 'clean'])).toBe('codeTable');
    expect(didYouMean('entnmae', ['pripid', 'entname', 'enttype'])).toBe('entname');
    expect(didYouMean('zzzzzzzz', ['target', 'type', 'source'])).toBeUndefined();
    expect(didYouMean('ab', ['xy'])).toBeUndefined();
  });
});
