/**
 * IP address text → bytes, for tests that write addresses into rdata (HTTPS
 * hints) or hand them to byte-level checks. Accepts dotted IPv4 and IPv6 with
 * "::" and a trailing dotted quad; throws on anything else, so a typo in a test
 * table fails loudly instead of testing another address.
 */
export function ipBytes(text: string): Buffer {
  if (!text.includes(':')) return ipv4Bytes(text);
  const [head = '', tail, extra] = text.split('::');
  if (extra !== undefined) throw new Error(`bad IPv6 address "${text}"`);
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v4 = ipv4Bytes(g);
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(g)) throw new Error(`bad IPv6 group "${g}" in "${text}"`);
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const fill = 8 - left.length - right.length;
  if (tail === undefined ? fill !== 0 : fill < 1) throw new Error(`bad IPv6 address "${text}"`);
  const all = [...left, ...Array<number>(tail === undefined ? 0 : fill).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

function ipv4Bytes(text: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw new Error(`bad IPv4 address "${text}"`);
  return Buffer.from(parts.map(Number));
}
