import { connectionAllowed, DEFAULT_ALLOWED_HOSTS, endpointPolicy, endpointProblem } from './endpoint-policy';

describe('where a rest-hook may deliver', () => {
  const defaults = endpointPolicy(DEFAULT_ALLOWED_HOSTS);

  it('takes https to a public host, and http only to an allowed host', () => {
    expect(endpointProblem('https://ehr.example.com/hook', defaults)).toBeUndefined();
    expect(endpointProblem('https://93.184.215.14/hook', endpointPolicy([]))).toBeUndefined();
    expect(endpointProblem('http://127.0.0.1:8081/hook', defaults)).toBeUndefined();
    expect(endpointProblem('http://localhost:8081/hook', defaults)).toBeUndefined();
    expect(endpointProblem('http://[::1]:8081/hook', defaults)).toBeUndefined();
    expect(endpointProblem('http://ehr.example.com/hook', defaults)).toMatch(/must use https/);
    expect(endpointProblem('http://ehr.internal/hook', endpointPolicy(['ehr.internal']))).toBeUndefined();
  });

  it('refuses private, link-local, unique-local and mapped addresses unless allowed, and loopback when the list is empty', () => {
    for (const [url, range] of [
      ['https://169.254.169.254/', 'linkLocal'],
      ['https://10.0.0.1/', 'private'],
      ['https://192.168.1.5/', 'private'],
      ['https://172.16.0.1/', 'private'],
      ['https://[fd00::1]/', 'uniqueLocal'],
      ['https://[fe80::1]/', 'linkLocal'],
      ['https://[::ffff:10.0.0.1]/', 'private'],
      ['https://0.0.0.0/', 'unspecified'],
    ]) {
      expect([url, endpointProblem(url, defaults)]).toEqual([url, expect.stringContaining(`is ${range}, not public`)]);
    }
    expect(endpointProblem('https://127.0.0.1/', endpointPolicy([]))).toMatch(/is loopback, not public/);
    expect(endpointProblem('https://10.1.2.3/', endpointPolicy(['10.1.0.0/16']))).toBeUndefined();
  });

  it('checks the address a name resolved to', () => {
    expect(connectionAllowed('ehr.example.com', '93.184.215.14', defaults)).toBe(true);
    expect(connectionAllowed('ehr.example.com', '10.0.0.1', defaults)).toBe(false);
    expect(connectionAllowed('ehr.example.com', '::ffff:169.254.169.254', defaults)).toBe(false);
    expect(connectionAllowed('localhost', '127.0.0.1', defaults)).toBe(true);
    expect(connectionAllowed('ehr.internal', '10.0.0.1', endpointPolicy(['ehr.internal']))).toBe(true);
  });

  it('names a bad allow-list entry', () => {
    expect(() => endpointPolicy(['10.0.0.0/99'])).toThrow('"10.0.0.0/99" is not a CIDR range');
    expect(() => endpointPolicy(['not a host'])).toThrow('is not a host name');
  });
});
