import { describe, expect, it } from 'vitest';
import { offsetEndpointPort } from './endpoint.ts';

describe('offsetEndpointPort', () => {
  it('adds the data-parallel rank to a TCP port, as vLLM does', () => {
    expect(offsetEndpointPort('tcp://*:5557', 0)).toBe('tcp://*:5557');
    expect(offsetEndpointPort('tcp://*:5557', 3)).toBe('tcp://*:5560');
    expect(offsetEndpointPort('tcp://10.0.0.7:5558', 1)).toBe('tcp://10.0.0.7:5559');
    expect(offsetEndpointPort('tcp://[::1]:5557', 2)).toBe('tcp://[::1]:5559');
  });

  it('suffixes inproc endpoints and leaves other transports alone', () => {
    expect(offsetEndpointPort('inproc://kv', 1)).toBe('inproc://kv_dp1');
    expect(offsetEndpointPort('ipc:///tmp/kv', 1)).toBe('ipc:///tmp/kv');
  });

  it('rejects a negative rank and a TCP endpoint without a port', () => {
    expect(() => offsetEndpointPort('tcp://*:5557', -1)).toThrow(RangeError);
    expect(() => offsetEndpointPort('tcp://host', 1)).toThrow(RangeError);
  });
});
