import { describe, expect, it } from 'vitest';
import { attachmentDisposition } from '../../src/domain/content-disposition.js';

describe('attachmentDisposition', () => {
  it('quotes a plain name and repeats it in filename*', () => {
    expect(attachmentDisposition('photo.jpg')).toBe(`attachment; filename="photo.jpg"; filename*=UTF-8''photo.jpg`);
  });

  it('cannot be broken out of by quotes or backslashes', () => {
    const h = attachmentDisposition('a"; evil=1\\.txt');
    expect(h).toBe(`attachment; filename="a_; evil=1_.txt"; filename*=UTF-8''a%22%3B%20evil%3D1%5C.txt`);
  });

  it('carries non-ASCII names exactly in filename* (RFC 6266 / 8187)', () => {
    const h = attachmentDisposition('résumé 東京.pdf');
    expect(h).toContain(`filename="r_sum_ __.pdf"`);
    const encoded = h.split("filename*=UTF-8''")[1]!;
    expect(decodeURIComponent(encoded)).toBe('résumé 東京.pdf');
  });
});
