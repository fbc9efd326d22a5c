import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { basicAuth, type TestAccount, type TestService } from './service.js';

/**
 * A call to the account's API with its owner's Basic credentials (or `auth`), JSON
 * bodies sent as application/json.
 */
export function accountApi(
  svc: Pick<TestService, 'baseUrl'>,
  account: TestAccount,
  path: string,
  init: RequestInit & { auth?: string; json?: unknown } = {},
): Promise<Response> {
  const { auth, json, headers, body, ...rest } = init;
  return fetch(`${svc.baseUrl}/v1/accounts/${account.sid}${path}`, {
    ...rest,
    headers: {
      Authorization: auth ?? account.basic,
      ...(json === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(headers as Record<string, string> | undefined),
    },
    body: json === undefined ? body : JSON.stringify(json),
  });
}

export interface TestApiKey {
  sid: string;
  secret: string;
  /** `Basic sid:secret` */
  basic: string;
}

/** A new API key of the account, created by its owner. */
export async function createApiKey(svc: Pick<TestService, 'baseUrl'>, account: TestAccount, name = 'k'): Promise<TestApiKey> {
  const res = await accountApi(svc, account, '/keys', { method: 'POST', json: { name } });
  if (res.status !== 201) throw new Error(`API key creation answered ${res.status}: ${await res.text()}`);
  const { sid, secret } = (await res.json()) as { sid: string; secret: string };
  return { sid, secret, basic: basicAuth(sid, secret) };
}

export interface TestApplication {
  id: string;
  privateKey: KeyObject;
  algorithm: 'RS256' | 'EdDSA';
}

/** Registers an application with a new key pair (Ed25519 unless RSA is asked for). */
export async function registerApplication(
  svc: Pick<TestService, 'baseUrl'>,
  account: TestAccount,
  algorithm: 'RS256' | 'EdDSA' = 'EdDSA',
): Promise<TestApplication> {
  const { publicKey, privateKey } =
    algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const res = await accountApi(svc, account, '/applications', {
    method: 'POST',
    json: { name: 'app', public_key: publicKey.export({ type: 'spki', format: 'pem' }) },
  });
  if (res.status !== 201) throw new Error(`application registration answered ${res.status}: ${await res.text()}`);
  return { id: ((await res.json()) as { application_id: string }).application_id, privateKey, algorithm };
}

/** `Bearer <jwt>` for the application, valid for 5 minutes unless the claims say otherwise. */
export async function bearerFor(app: TestApplication, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ application_id: app.id, iat: now, exp: now + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: app.algorithm, typ: 'JWT' })
    .sign(app.privateKey);
  return `Bearer ${jwt}`;
}
