// Characters that change how text reads without being seen: removed from anything that came from outside. Pure.

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what is removed
const ANSI_SEQUENCE = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g;

/**
 * Controls (C0 and C1, except tab and newline), every format character (bidi marks and overrides, zero-width
 * characters, U+061C, U+FEFF, tag characters), and the blank fillers that render as nothing (U+115F, U+1160,
 * U+3164, U+FFA0).
 */
const INVISIBLE = /(?![\t\n])[\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/gu;

/** Line and paragraph separators break a line in some viewers and not in others: a plain space instead. */
const SEPARATORS = /[\u2028\u2029]/g;

/** Removes terminal escapes and invisible characters, so a value reads as it is stored (and a split token rejoins). */
export function stripInvisible(text: string): string {
  return text.replace(ANSI_SEQUENCE, '').replace(SEPARATORS, ' ').replace(INVISIBLE, '');
}

/** Makes every invisible character of `text` (not tab or newline) visible as \u{…}: for a terminal, where an escape sequence would act. */
export function showInvisible(text: string): string {
  return text.replace(
    /(?![\t\n])[\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0\u2028\u2029]/gu,
    (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`,
  );
}
