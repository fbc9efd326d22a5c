import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BatchedStdout } from '../../src/log.js';

/** A stdout stand-in whose unwritten queue the test sets. */
function fakeStdout() {
  const writes: string[] = [];
  const out = Object.assign(new EventEmitter(), {
    writableLength: 0,
    write(chunk: string) {
      writes.push(chunk);
      return true;
    },
  });
  return { out, writes };
}

const line = (i: number, size = 100) => `{"i":${i},"pad":"${'x'.repeat(size - 20 - String(i).length)}"}\n`;

describe('BatchedStdout', () => {
  it('writes whole lines in batches of at most PIPE_BUF bytes, in order, none lost', () => {
    const { out, writes } = fakeStdout();
    const stdout = new BatchedStdout(out as never);
    const lines = Array.from({ length: 200 }, (_, i) => line(i));
    for (const l of lines) stdout.write(l);
    stdout.flush();
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.length).toBeLessThan(20); // batched: not a write per line
    for (const w of writes) {
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(4096);
      expect(w.endsWith('\n')).toBe(true);
    }
    expect(writes.join('')).toBe(lines.join(''));
  });

  it('drops lines while the reader is behind, and says how many once it reads again', () => {
    const { out, writes } = fakeStdout();
    const stdout = new BatchedStdout(out as never);
    stdout.write(line(1));
    out.writableLength = 9 * 2 ** 20; // the reader stopped: 9 MB queued
    for (let i = 2; i <= 51; i++) stdout.write(line(i));
    stdout.flush();
    expect(writes.join('')).toBe(line(1)); // kept from before, nothing after
    out.writableLength = 0; // it reads again
    stdout.write(line(52));
    stdout.flush();
    const after = writes.slice(1).join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(after[0]).toMatchObject({ level: 40, dropped_lines: 50, msg: 'log lines dropped: stdout was not read' });
    expect(after[1]).toEqual({ i: 52, pad: expect.any(String) });
  });

  it('stops writing, without throwing, once stdout has failed (its reader is gone)', () => {
    const { out, writes } = fakeStdout();
    const stdout = new BatchedStdout(out as never);
    out.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    stdout.write(line(1));
    stdout.flush();
    expect(writes).toEqual([]);
  });
});
