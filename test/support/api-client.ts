import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../../console/api-types.js';
import type { TestAccount, TestService } from './service.js';

/**
 * A client of the service whose paths, parameters, bodies and answers are typed from the
 * OpenAPI document (types by openapi-typescript in console/api-types.d.ts, which the
 * console imports too; calls by openapi-fetch): a test written with it stops compiling
 * when the document changes under it. It calls globalThis.fetch, so its responses are
 * checked against the contract like any other.
 */
export function apiClient(svc: Pick<TestService, 'baseUrl'>, auth?: string): Client<paths> {
  return createClient<paths>({ baseUrl: svc.baseUrl, headers: auth === undefined ? {} : { Authorization: auth } });
}

/** The client with the account owner's Basic credentials. */
export function ownerClient(svc: Pick<TestService, 'baseUrl'>, account: TestAccount): Client<paths> {
  return apiClient(svc, account.basic);
}
