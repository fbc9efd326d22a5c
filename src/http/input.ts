import type { Context } from 'koa';
import { z } from 'zod';
import { InvalidRequest, PayloadTooLarge } from '../domain/errors.js';
import type { Scheduler } from '../scheduler.js';
import { RequestTimeout, UnsupportedMediaType } from './errors.js';

const JSON_TYPE = /^application\/json\s*(;|$)/i;

export interface JsonBodyLimits {
  maxBytes: number;
  timeoutMillis: number;
  scheduler: Scheduler;
}

/**
 * Reads and validates a small JSON body; every problem is a 400 (or 408, 413, 415).
 * The body must be declared `application/json`: a browser sends that type cross-site
 * only after a CORS preflight, while a form's types (`x-www-form-urlencoded`,
 * `text/plain`) need none, so refusing them closes the CSRF route a lenient parser
 * would open. (`curl -d` needs `-H 'Content-Type: application/json'`.)
 */
export async function readJsonBody<T extends z.ZodType>(ctx: Context, schema: T, limits: JsonBodyLimits): Promise<z.infer<T>> {
  const declared = Number(ctx.get('Content-Length') || '0');
  const hasBody = declared > 0 || ctx.get('Transfer-Encoding') !== '';
  if (hasBody && !JSON_TYPE.test(ctx.get('Content-Type'))) {
    throw new UnsupportedMediaType('the body must be JSON, sent as Content-Type: application/json');
  }
  if (declared > limits.maxBytes) throw new PayloadTooLarge(limits.maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  // A client dripping a small body byte by byte must not hold the connection.
  const cancel = limits.scheduler.after(limits.timeoutMillis, () => ctx.req.destroy(new RequestTimeout()));
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.maxBytes) throw new PayloadTooLarge(limits.maxBytes);
      chunks.push(chunk);
    }
  } finally {
    cancel();
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new InvalidRequest('the body is not valid JSON');
  }
  return parseWith(schema, value, 'body');
}

/** Query parameters: each given at most once. */
export function readQuery<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  return parseWith(schema, ctx.query, 'query');
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const field = i.path.length ? i.path.join('.') : where;
    if (i.code === 'unrecognized_keys') return `unknown field ${i.keys.join(', ')}`;
    return `${field}: ${i.message}`;
  });
  throw new InvalidRequest(problems.join('; '));
}

// Lists are paged alike: page_size from 1 to PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT when absent.
export const PAGE_SIZE_MAX = 1000;
export const PAGE_SIZE_DEFAULT = 50;

export const pageSize = z
  .string()
  .regex(/^\d{1,7}$/, `must be a whole number from 1 to ${PAGE_SIZE_MAX}`)
  .transform(Number)
  .pipe(z.number().int().min(1, `must be from 1 to ${PAGE_SIZE_MAX}`).max(PAGE_SIZE_MAX, `must be from 1 to ${PAGE_SIZE_MAX}`))
  .default(PAGE_SIZE_DEFAULT);

/** An empty query value (`?kind=`) means the parameter is absent, as a form sends it. */
export const absentIfEmpty = (v: unknown) => (v === '' ? undefined : v);

/** The query of a keyset-paged list; the token is opaque here (domain/paging.ts reads it). */
export const pagingQuery = {
  page_size: z.preprocess(absentIfEmpty, pageSize),
  page_token: z.preprocess(absentIfEmpty, z.string().max(512).optional()),
};

/**
 * What the reference says of pagingQuery, for a list of `things`. page_size is described
 * by the number it becomes (an integer from 1 to PAGE_SIZE_MAX, its default), not by the
 * digits it arrives as.
 */
export const pagingNotes = (things: string) => ({
  page_size: {
    description: `${things} per page, 1 to ${PAGE_SIZE_MAX} (default ${PAGE_SIZE_DEFAULT}); empty counts as absent, anything else is 400`,
    describes: 'value' as const,
    example: PAGE_SIZE_DEFAULT,
  },
  page_token: { description: "the previous page's `next_page_token` (opaque; one the service did not write is 400); empty counts as absent" },
});
