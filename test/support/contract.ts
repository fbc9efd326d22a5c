import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseConfig } from '../../src/config.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../../src/http/openapi.js';

// Checks responses against the service's own OpenAPI document (src/http/openapi.ts): the
// status is declared for that path and method, the declared required headers are there
// (and match their schemas), and a JSON body matches its schema. contract-setup.ts runs
// it on every response the tests receive through fetch, so a new test is checked for free.

// ajv-formats is CommonJS with a default export; under NodeNext its namespace arrives.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, unknown>;

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

export interface CheckedRequest {
  method: string;
  url: string;
  headers: Headers;
}

interface Route {
  template: string;
  pattern: RegExp;
  literalChars: number;
  operations: Record<string, Json>;
}

const COMPONENTS_ID = 'urn:mediagate:openapi-components';
const LOCAL_ADDRESS = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

export class ContractChecker {
  private readonly routes: Route[];
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<unknown, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument = buildOpenApiDocument(parseConfig({}))) {
    this.routes = Object.entries(document.paths)
      .map(([template, operations]) => {
        const parts = template.split(/(\{[^}]+\})/);
        const source = parts.map((p) => (p.startsWith('{') ? '([^/]+)' : p.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('');
        return {
          template,
          pattern: new RegExp(`^${source}$`),
          literalChars: parts.filter((p) => !p.startsWith('{')).join('').length,
          operations,
        };
      })
      // `…/{MediaSid}.json` before `…/{MediaSid}`, whose parameter would also match `ME….json`.
      .sort((a, b) => b.literalChars - a.literalChars);
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: COMPONENTS_ID, $defs: rewriteRefs(document.components.schemas) });
  }

  /** The documented path template a service URL falls under, or undefined (not ours to check). */
  routeOf(url: URL): Route | undefined {
    if (url.protocol !== 'http:' || !LOCAL_ADDRESS.test(url.hostname)) return undefined;
    return this.routes.find((r) => r.pattern.test(url.pathname));
  }

  /** What is wrong with this response, as sentences; empty when it keeps the contract. */
  async problemsOf(request: CheckedRequest, response: Response): Promise<string[]> {
    const url = new URL(response.url || request.url);
    const route = this.routeOf(url);
    // Paths the document does not name (an S3 server's or a test edge's URLs, unknown
    // paths) are outside the contract.
    if (!route) return [];
    const method = request.method.toUpperCase();
    // HTTP's HEAD is a GET without the body: where the document names only GET, a HEAD
    // answers as the GET would.
    const operation = route.operations[method.toLowerCase()] ?? (method === 'HEAD' ? route.operations.get : undefined);
    // Another method on a documented path (a preflight, a 405 the tests provoke): only the
    // rules every answer keeps.
    if (!operation) return this.otherMethodProblems(method, response);

    const responses = operation.responses as Record<string, Json>;
    const declared = responses[String(response.status)];
    if (!declared) return [`status ${response.status} is not declared (declared: ${Object.keys(responses).join(', ')})`];
    const answer = this.resolve(declared);
    return [...this.headerProblems(answer, request, response), ...(await this.bodyProblems(answer, method, url, response))];
  }

  /** Every answer carries the common headers; every error, at any path and method, is the contract's JSON error. */
  private async otherMethodProblems(method: string, response: Response): Promise<string[]> {
    const problems = ['X-Request-Id', 'X-Content-Type-Options'].filter((h) => !response.headers.has(h)).map((h) => `header ${h} is missing`);
    if (response.status < 400 || method === 'HEAD') return problems;
    let body: unknown;
    try {
      body = JSON.parse(await response.clone().text());
    } catch (err) {
      return err instanceof SyntaxError ? [...problems, 'the error body is not JSON'] : problems;
    }
    const error = (body as { error?: { status?: unknown; code?: unknown; message?: unknown } } | null)?.error;
    if (!error || error.status !== response.status || typeof error.code !== 'string' || typeof error.message !== 'string') {
      problems.push(`the body is not {"error": {"status": ${response.status}, "code", "message"}}: ${truncate(JSON.stringify(body))}`);
    }
    return problems;
  }

  private headerProblems(answer: Json, request: CheckedRequest, response: Response): string[] {
    const problems: string[] = [];
    for (const [name, declaredHeader] of Object.entries((answer.headers as Record<string, Json> | undefined) ?? {})) {
      const header = this.resolve(declaredHeader);
      const value = response.headers.get(name);
      if (value === null) {
        const exemptingHeader = header['x-mediagate-absent-when-request-header'] as string | undefined;
        if (header.required === true && !(exemptingHeader && request.headers.has(exemptingHeader))) problems.push(`header ${name} is missing`);
        continue;
      }
      const validate = this.validatorFor(header.schema);
      if (validate && !validate(value)) problems.push(`header ${name}: ${JSON.stringify(value)} ${describeErrors(validate)}`);
    }
    return problems;
  }

  private async bodyProblems(answer: Json, method: string, url: URL, response: Response): Promise<string[]> {
    const content = answer.content as Record<string, Json> | undefined;
    if (!content || method === 'HEAD' || response.status === 204 || response.status === 304) return [];
    const contentType = response.headers.get('content-type') ?? '';
    const essence = contentType.split(';')[0]!.trim().toLowerCase();
    const applicable = Object.entries(content).filter(([, media]) => queryMatches(media['x-mediagate-when-query'], url));
    const chosen =
      applicable.find(([type]) => type === essence) ??
      applicable.find(([type]) => type.endsWith('/*') && (type === '*/*' || essence.startsWith(type.slice(0, -1))));
    if (!chosen) return [`Content-Type ${JSON.stringify(contentType)} is not declared (declared: ${applicable.map(([t]) => t).join(', ')})`];
    const [type, media] = chosen;
    if (type !== 'application/json' || !media.schema) return [];

    let body: unknown;
    try {
      body = JSON.parse(await response.clone().text());
    } catch (err) {
      // The connection ended mid-body (a test that stops a server): nothing to judge.
      if (!(err instanceof SyntaxError)) return [];
      return ['the body is not JSON'];
    }
    const validate = this.validatorFor(media.schema)!;
    return validate(body) ? [] : [`body ${describeErrors(validate)}: ${truncate(JSON.stringify(body))}`];
  }

  private validatorFor(schema: unknown): ValidateFunction | undefined {
    if (schema === undefined) return undefined;
    let validate = this.validators.get(schema);
    if (!validate) {
      validate = this.ajv.compile(rewriteRefs(schema as Json));
      this.validators.set(schema, validate);
    }
    return validate;
  }

  /** Follows a local `$ref` (`#/components/responses/…`, `#/components/headers/…`). */
  private resolve(value: Json): Json {
    let current = value;
    for (let depth = 0; typeof current.$ref === 'string' && depth < 10; depth++) {
      const pointer = (current.$ref as string).replace(/^#\//, '').split('/');
      current = pointer.reduce<Json>((node, key) => node[key] as Json, this.document);
      if (!current) throw new Error(`unresolvable $ref ${String(value.$ref)}`);
    }
    return current;
  }
}

function rewriteRefs<T>(schema: T): T {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${COMPONENTS_ID}#/$defs/`)) as T;
}

function queryMatches(required: unknown, url: URL): boolean {
  if (!required) return true;
  return Object.entries(required as Record<string, string>).every(([name, value]) => url.searchParams.get(name) === value);
}

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`)
    .join('; ');
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Path and status for messages: the query of a signed URL is left out. */
export function describeExchange(request: CheckedRequest, response: Response, template: string | undefined): string {
  const url = new URL(response.url || request.url);
  return `${request.method.toUpperCase()} ${url.pathname} (${template ?? 'undocumented'}) answered ${response.status}`;
}

let shared: ContractChecker | undefined;

/** One checker per test worker: the document and its compiled schemas are built once. */
export function contractChecker(): ContractChecker {
  shared ??= new ContractChecker();
  return shared;
}

/** The fetch the tests were given, before the contract check wrapped it (for exchanges deliberately outside the contract). */
export let uncheckedFetch: typeof fetch = globalThis.fetch;

/** Rejects with a ContractViolation naming the route, the status and the problem when the response breaks the contract. */
export async function checkContract(request: CheckedRequest, response: Response): Promise<void> {
  const checker = contractChecker();
  const problems = await checker.problemsOf(request, response);
  if (problems.length > 0) {
    const route = checker.routeOf(new URL(response.url || request.url));
    throw new ContractViolation(`contract (docs/openapi.json): ${describeExchange(request, response, route?.template)}: ${problems.join('; ')}`);
  }
}

/**
 * Wraps globalThis.fetch: each response from a service the tests started (any
 * http://127.0.0.1:<port> URL whose path the document names) is checked, and a response
 * that breaks the contract rejects the fetch with a ContractViolation naming the route,
 * the status and the problem.
 */
export function installContractCheck(): void {
  if ((globalThis.fetch as { contractChecked?: boolean }).contractChecked) return;
  const original = globalThis.fetch;
  uncheckedFetch = original;
  const checked = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await original(input, init);
    const request: CheckedRequest = {
      method: init?.method ?? (input instanceof Request ? input.method : 'GET'),
      url: input instanceof Request ? input.url : String(input),
      headers: new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)),
    };
    await checkContract(request, response);
    return response;
  };
  globalThis.fetch = Object.assign(checked, { contractChecked: true }) as typeof fetch;
}
