import { DEFAULT_STANDBY_TEST_PORT_BASE, standbyTestPorts } from '../support/standby-ports';

/**
 * The standby tests' ports come from STANDBY_TEST_PORT_BASE (two checkouts testing at once must not share a
 * primary): the default stays 25452…25456, a base moves all five, and a value that is not a usable port fails
 * with the variable's name.
 */
describe('standby test ports (STANDBY_TEST_PORT_BASE)', () => {
  it('defaults to 25452: primary, standby, DR copy, tamper clone, drill restore', () => {
    expect(DEFAULT_STANDBY_TEST_PORT_BASE).toBe(25452);
    expect(standbyTestPorts({})).toEqual({ primary: 25452, standby: 25453, dr: 25454, tamper: 25455, drill: 25456 });
    expect(standbyTestPorts({ STANDBY_TEST_PORT_BASE: '' })).toEqual(standbyTestPorts({}));
  });

  it('a base moves all five ports together', () => {
    expect(standbyTestPorts({ STANDBY_TEST_PORT_BASE: '56452' })).toEqual({ primary: 56452, standby: 56453, dr: 56454, tamper: 56455, drill: 56456 });
    expect(standbyTestPorts({ STANDBY_TEST_PORT_BASE: ' 1024 ' }).drill).toBe(1028);
  });

  it.each(['abc', '55452x', '-1', '80', '65532', '1e4', '5.5'])('refuses %s, naming the variable', (v) => {
    expect(() => standbyTestPorts({ STANDBY_TEST_PORT_BASE: v })).toThrow(/STANDBY_TEST_PORT_BASE/);
  });
});
