import { RUN_KINDS } from '../../api/kinds';

/**
 * The workflow bundle's entry point loads no workflow module until a workflow of its type runs: the SDK evaluates
 * a workflow's modules afresh for every workflow it starts, so an index that imported every run kind (and zod with
 * their shapes) made each migrateTable child — one per table — pay for all of them (workflows/index.ts). Every
 * run kind the API starts, and the children the runs start, are served by it.
 */
describe('workflows/index.ts', () => {
  it('names every workflow type without evaluating a workflow module (nor the SDK, nor zod)', () => {
    jest.isolateModules(() => {
      for (const m of ['@temporalio/workflow', 'zod']) {
        jest.doMock(m, () => {
          throw new Error(`${m} evaluated by the index`);
        });
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded inside the isolated registry, after the mocks
      const index = require('../../workflows') as Record<string, unknown>;
      expect(Object.keys(index).sort()).toEqual(
        [...new Set([...RUN_KINDS.map((k) => k.workflowType), 'migrateTable', 'remediationCheck', 'remediationHeld'])].sort(),
      );
      for (const fn of Object.values(index)) expect(typeof fn).toBe('function');
      // calling one loads its module: here the mocked SDK refuses, which proves the load happens on demand
      expect(() => (index.migrateTable as () => unknown)()).toThrow('@temporalio/workflow evaluated by the index');
    });
  });
});
