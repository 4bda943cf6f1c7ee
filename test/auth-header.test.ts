import { describe, expect, it } from 'vitest';
import {
  AuthError,
  MAX_AUTHORIZATION_LENGTH,
  basicChallenge,
  parseAuthorizationHeader,
  parseConnectionInitPayload,
} from '../src/auth/authorization-header.ts';
import type { AuthFailureReason } from '../src/auth/authorization-header.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const basic = (user: string, password: string): string => `Basic ${b64(`${user}:${password}`)}`;

function refusal(run: () => unknown): AuthError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return error as AuthError;
  }
  throw new Error('expected an AuthError, got a result');
}

describe('parseAuthorizationHeader: accepted', () => {
  const cases: [string, string | null | undefined, unknown][] = [
    ['no header', undefined, { scheme: 'none' }],
    ['null (fetch Headers.get of an absent header)', null, { scheme: 'none' }],
    ['Basic', basic('alice@vsphere.local', 's3cret'), { scheme: 'basic', username: 'alice@vsphere.local', password: 's3cret' }],
    ['scheme in any case', `bAsIc ${b64('alice:pw')}`, { scheme: 'basic', username: 'alice', password: 'pw' }],
    ['BEARER upper case', 'BEARER abc.def.ghi', { scheme: 'bearer', token: 'abc.def.ghi' }],
    ['password with colons', basic('alice', 'a:b:c'), { scheme: 'basic', username: 'alice', password: 'a:b:c' }],
    ['UTF-8 user and password', basic('jürgen', 'pässwörd✓'), { scheme: 'basic', username: 'jürgen', password: 'pässwörd✓' }],
    ['surrounding whitespace trimmed', `  ${basic('a', 'b')}\t`, { scheme: 'basic', username: 'a', password: 'b' }],
    ['several spaces after the scheme', `Bearer   tok`, { scheme: 'bearer', token: 'tok' }],
    ['bearer b64token characters', 'Bearer A-Za-z0-9._~+/==', { scheme: 'bearer', token: 'A-Za-z0-9._~+/==' }],
    ['Windows domain user', basic('CORP\\bob', 'pw'), { scheme: 'basic', username: 'CORP\\bob', password: 'pw' }],
  ];
  it.each(cases)('%s', (_name, header, expected) => {
    expect(parseAuthorizationHeader(header)).toEqual(expected);
  });
});

describe('parseAuthorizationHeader: refused', () => {
  const secret = 'hunter2-TopSecret';
  const cases: [string, string, AuthFailureReason][] = [
    ['empty header', '', 'malformed_authorization'],
    ['whitespace only', '   ', 'malformed_authorization'],
    ['scheme without credentials', 'Basic', 'malformed_authorization'],
    ['scheme and a space', 'Bearer ', 'malformed_authorization'],
    ['unknown scheme', `Digest username="alice", response="${secret}"`, 'unsupported_scheme'],
    ['token with a credential-looking scheme', `Token ${secret}`, 'unsupported_scheme'],
    ['no space after the scheme', 'BasicYWxpY2U6cHc', 'unsupported_scheme'],
    ['no space after the scheme, with padding', 'BasicYWxpY2U6cHc=', 'malformed_authorization'],
    ['tab instead of space', `Bearer\t${secret}`, 'malformed_authorization'],
    ['two credentials', `Bearer ${secret} ${secret}`, 'malformed_authorization'],
    ['comma-joined duplicate headers', `Bearer ${secret}, Bearer other`, 'malformed_authorization'],
    ['bearer with a quote', `Bearer "${secret}"`, 'malformed_authorization'],
    ['bearer with padding inside', `Bearer ab=cd${secret}`, 'malformed_authorization'],
    ['basic: not base64', `Basic ${secret}!`, 'malformed_authorization'],
    ['basic: base64url alphabet', `Basic ${b64('alice:' + secret + '??>').replace(/\+/g, '-').replace(/\//g, '_')}`, 'malformed_authorization'],
    ['basic: missing padding', 'Basic YWxpY2U6cHc', 'malformed_authorization'],
    ['basic: padding in the middle', 'Basic YWxp=Y2U6cHc=', 'malformed_authorization'],
    ['basic: non-canonical trailing bits', 'Basic YWxpY2U6cHd=', 'malformed_authorization'],
    ['basic: no colon', `Basic ${b64('alice' + secret)}`, 'malformed_authorization'],
    ['basic: empty user', `Basic ${b64(':' + secret)}`, 'malformed_authorization'],
    ['basic: empty password', `Basic ${b64('alice:')}`, 'malformed_authorization'],
    ['basic: control character in the password', basic('alice', `${secret}\n`), 'malformed_authorization'],
    ['basic: NUL in the user name', basic('ali\u0000ce', secret), 'malformed_authorization'],
    ['basic: C1 control character', basic('alice', `${secret}\u0085`), 'malformed_authorization'],
    ['basic: not UTF-8', `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, 'malformed_authorization'],
    ['control character in the header', `Bearer ${secret}\r\nX-Injected: 1`, 'malformed_authorization'],
    ['non-ASCII in the header', `Bearer ${secret}é`, 'malformed_authorization'],
    ['over-long header', `Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH)}`, 'authorization_too_long'],
  ];
  it.each(cases)('%s', (_name, header, reason) => {
    const error = refusal(() => parseAuthorizationHeader(header));
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, reason });
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain(header.trim() || '\u0000never');
  });

  it('accepts a header of exactly the bound', () => {
    const header = `Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH - 'Bearer '.length)}`;
    expect(header).toHaveLength(MAX_AUTHORIZATION_LENGTH);
    expect(parseAuthorizationHeader(header)).toMatchObject({ scheme: 'bearer' });
  });
});

describe('parseConnectionInitPayload', () => {
  const accepted: [string, unknown, unknown][] = [
    ['no payload', undefined, { scheme: 'none' }],
    ['null payload', null, { scheme: 'none' }],
    ['empty object', {}, { scheme: 'none' }],
    ['unrelated keys only', { clientVersion: '1.2' }, { scheme: 'none' }],
    ['authorization: Bearer', { authorization: 'Bearer tok.en' }, { scheme: 'bearer', token: 'tok.en' }],
    ['Authorization: Basic', { Authorization: basic('bob', 'pw') }, { scheme: 'basic', username: 'bob', password: 'pw' }],
    ['both spellings, same value', { authorization: 'Bearer t', Authorization: 'Bearer t' }, { scheme: 'bearer', token: 't' }],
    ['username and password', { username: 'bob', password: 'p:w' }, { scheme: 'basic', username: 'bob', password: 'p:w' }],
  ];
  it.each(accepted)('accepts %s', (_name, payload, expected) => {
    expect(parseConnectionInitPayload(payload)).toEqual(expected);
  });

  const secret = 'hunter2-TopSecret';
  const refused: [string, unknown, AuthFailureReason][] = [
    ['a string payload', `Bearer ${secret}`, 'malformed_authorization'],
    ['an array payload', [`Bearer ${secret}`], 'malformed_authorization'],
    ['a non-string authorization', { authorization: { token: secret } }, 'malformed_authorization'],
    ['two different authorization values', { authorization: `Bearer ${secret}`, Authorization: 'Bearer other' }, 'malformed_authorization'],
    ['authorization and username together', { authorization: `Bearer ${secret}`, username: 'bob', password: secret }, 'malformed_authorization'],
    ['username without password', { username: 'bob' }, 'malformed_authorization'],
    ['password without username', { password: secret }, 'malformed_authorization'],
    ['a numeric password', { username: 'bob', password: 1234 }, 'malformed_authorization'],
    ['empty username', { username: '', password: secret }, 'malformed_authorization'],
    ['colon in the username', { username: 'bo:b', password: secret }, 'malformed_authorization'],
    ['control character in the password', { username: 'bob', password: `${secret}\u0007` }, 'malformed_authorization'],
    ['over-long password', { username: 'bob', password: secret.repeat(1000) }, 'authorization_too_long'],
    ['malformed header inside', { authorization: `Basic ${secret}!` }, 'malformed_authorization'],
    ['unknown scheme inside', { authorization: `Negotiate ${secret}` }, 'unsupported_scheme'],
  ];
  it.each(refused)('refuses %s', (_name, payload, reason) => {
    const error = refusal(() => parseConnectionInitPayload(payload));
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, reason });
    expect(error.message).not.toContain(secret);
  });

  it('ignores inherited properties (only the payload’s own keys count)', () => {
    const payload = Object.create({ authorization: 'Bearer inherited' }) as object;
    expect(parseConnectionInitPayload(payload)).toEqual({ scheme: 'none' });
  });
});

describe('basicChallenge', () => {
  it('announces the realm and UTF-8, without characters that would break the quoted string', () => {
    expect(basicChallenge('vSphere "GraphQL" gateway')).toBe('Basic realm="vSphere GraphQL gateway", charset="UTF-8"');
  });
});
