import busboy from 'busboy';
import type { Context } from 'koa';
import { PassThrough, type Readable } from 'node:stream';
import { InvalidRequest } from '../domain/errors.js';

export interface FilePart {
  /** the file's bytes, as they arrive */
  stream: Readable;
  filename: string | undefined;
  contentType: string;
  /** resolves once the whole form is read and held exactly this one file; rejects otherwise */
  rest: Promise<void>;
}

const SEVERAL = () => new InvalidRequest('the form must hold exactly one file part, not several');
const CUT_SHORT = () => new InvalidRequest('the multipart body is malformed or was cut short');

/**
 * The one file part of a `multipart/form-data` body (`curl -F file=@cat.jpg`, an HTML
 * form), streamed as it arrives: busboy parses, nothing is buffered whole. Other fields
 * are read and ignored. No file part: 400 at once; a second file part, or a body cut
 * short, rejects `rest` (the caller stores nothing then). At most maxBytes + 1 bytes of
 * the file are passed on, so the store's own count refuses the first byte too many.
 */
export function readFilePart(ctx: Context, maxBytes: number): Promise<FilePart> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: ctx.req.headers, limits: { files: 1, fileSize: maxBytes + 1, fields: 50, fieldSize: 64 * 1024, parts: 60 } });
    } catch {
      reject(new InvalidRequest('the multipart body has no boundary in its Content-Type'));
      return;
    }
    let file: FilePart | undefined;
    let problem: InvalidRequest | undefined;
    let settle!: { resolve: () => void; reject: (err: Error) => void };
    const rest = new Promise<void>((res, rej) => (settle = { resolve: res, reject: rej }));
    rest.catch(() => undefined); // observed by the caller once the file is stored
    parser.on('file', (_name, stream, info) => {
      // Handed on through a stream of our own: busboy fails its file stream with its own
      // errors ("Unexpected end of form"), which are the client's doing, a 400.
      const bytes = new PassThrough();
      stream.on('error', () => bytes.destroy(CUT_SHORT()));
      stream.pipe(bytes);
      file = { stream: bytes, filename: info.filename || undefined, contentType: info.mimeType, rest };
      resolve(file);
    });
    parser.on('filesLimit', () => (problem ??= SEVERAL()));
    parser.on('close', () => {
      if (!file) reject(problem ?? new InvalidRequest('the form holds no file part: send the media as one file (curl -F file=@cat.jpg)'));
      else if (problem) settle.reject(problem);
      else settle.resolve();
    });
    parser.on('error', () => {
      const err = CUT_SHORT();
      if (!file) reject(err);
      else {
        file.stream.destroy(err);
        settle.reject(err);
      }
    });
    ctx.req.on('aborted', () => parser.destroy(CUT_SHORT()));
    ctx.req.pipe(parser);
  });
}
