import { describe, expect, it } from 'vitest';
import { parseAuthorization } from '../../src/domain/authorization-header.js';
import { InvalidCredentials } from '../../src/domain/errors.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('parseAuthorization', () => {
  it('reads Basic username:password, the password may hold colons', () => {
    expect(parseAuthorization(`Basic ${b64('ACx:to:ken')}`)).toEqual({ scheme: 'basic', username: 'ACx', password: 'to:ken' });
    expect(parseAuthorization(`basic ${b64('a:b')}`)).toMatchObject({ scheme: 'basic' });
  });

  it('reads a Bearer JWT', () => {
    expect(parseAuthorization('Bearer aaa.bbb.ccc')).toEqual({ scheme: 'bearer', token: 'aaa.bbb.ccc' });
  });

  it.each([
    ['no value', 'Basic'],
    ['not base64', 'Basic !!!!'],
    ['bad base64 padding', 'Basic YWJj='],
    ['no colon', `Basic ${b64('ACabc')}`],
    ['empty username', `Basic ${b64(':token')}`],
    ['empty password', `Basic ${b64('AC:')}`],
    ['NUL byte', `Basic ${b64('AC\u0000x:token')}`],
    ['not UTF-8', `Basic ${b64(Buffer.from([0x41, 0x3a, 0xff, 0xfe]))}`],
    ['7 KB value', `Basic ${'A'.repeat(7 * 1024)}`],
    ['unknown scheme', 'Digest username="x"'],
    ['a bare word', 'token'],
    ['malformed bearer', 'Bearer not a jwt'],
  ])('refuses %s as invalid credentials', (_name, header) => {
    expect(() => parseAuthorization(header)).toThrow(InvalidCredentials);
  });
});
