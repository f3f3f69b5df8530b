/**
 * The identity of an upstream question: the canonical question section
 * (lower-cased name, type, class) plus the DO and CD bits, which change what
 * an upstream returns. Shared by the cache and by request coalescing.
 * latin1 maps every byte to one UTF-16 unit, so the string is as cheap as the
 * bytes and two questions get equal keys exactly when their bytes are equal.
 */
export function questionKey(question: Buffer, dnssecOk: boolean, checkingDisabled: boolean): string {
  return question.toString('latin1') + FLAG_CHARS[(dnssecOk ? 1 : 0) | (checkingDisabled ? 2 : 0)]!;
}

const FLAG_CHARS = ['0', '1', '2', '3'] as const;
