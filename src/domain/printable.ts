// What may stand in text that people read (names) or that is parsed (credentials).

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// Controls (Cc), format characters (Cf: bidi overrides such as U+202E, which make
// "invoice\u202Egnp.exe" display as "invoiceexe.png", zero-width joiners) and line or
// paragraph separators (Zl, Zp) have no place in a name shown to people.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** Whether a name holds characters that control or disguise how it displays. */
export function isDisplaySafe(text: string): boolean {
  return !UNPRINTABLE.test(text);
}
