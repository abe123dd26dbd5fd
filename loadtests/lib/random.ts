/**
 * Randomness from Math.random alone: k6 has no node:crypto, and nothing here needs to be
 * unguessable, only unlikely to repeat.
 */

export function randomHex(length: number): string {
  let hex = '';
  while (hex.length < length) hex += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return hex.slice(0, length);
}

/** A version 4 UUID (RFC 9562): used as an Idempotency-Key, as a storefront would. */
export function randomUuid(): string {
  const hex = randomHex(32);
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function randomInt(minInclusive: number, maxInclusive: number): number {
  return minInclusive + Math.floor(Math.random() * (maxInclusive - minInclusive + 1));
}

export function pickDistinct<T>(from: readonly T[], count: number): T[] {
  const pool = [...from];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) picked.push(pool.splice(Math.floor(Math.random() * pool.length), 1)[0]!);
  return picked;
}

/**
 * Ranks 1..n drawn with probability proportional to 1/rank^exponent (Zipf's law): with n = 20
 * and exponent 1, the first product gets 28% of the views and the last 1.4%, so a cache holding
 * the popular few serves most requests, as in a real shop.
 */
export function zipfSampler(n: number, exponent = 1): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let rank = 1; rank <= n; rank++) {
    total += 1 / rank ** exponent;
    cumulative.push(total);
  }
  return () => {
    const target = Math.random() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low + 1;
  };
}
