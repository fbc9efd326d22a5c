import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ObjectTooLarge } from './errors.js';

/**
 * Passes bytes through while counting and hashing them, and fails the stream with
 * ObjectTooLarge as soon as more than maxBytes went by, so a store never holds more.
 */
export class MeasuredBody extends Transform {
  sizeBytes = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length;
    if (this.sizeBytes > this.maxBytes) {
      callback(new ObjectTooLarge(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** hex SHA-256 of everything that went through; call once the stream ended */
  digest(): string {
    return this.hash.digest('hex');
  }
}
