/**
 * Money travels as exact decimal strings ("1299.99") and is computed in integer cents,
 * so no total is ever off by a float rounding.
 */
const moneyPattern = /^(0|[1-9]\d*)(\.\d{1,2})?$/;

/** The most a numeric(12,2) column, where every service stores its amounts, can hold. */
export const maxStoredAmount = '9999999999.99';
const maxStoredCents = toCents(maxStoredAmount);

/** An amount the API accepts and answers with: one that fits numeric(12,2). */
export const moneyJsonPattern = '^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,2})?$';

/** Whether an amount fits the numeric(12,2) columns; a sum of many can outgrow them. */
export function fitsStorage(amount: string): boolean {
  return toCents(amount) <= maxStoredCents;
}

export function isMoney(value: string): boolean {
  return moneyPattern.test(value);
}

export function toCents(value: string): bigint {
  const match = moneyPattern.exec(value);
  if (!match) throw new RangeError(`not a money amount: "${value}"`);
  const whole = BigInt(match[1]!);
  const fraction = (match[2] ?? '.').slice(1).padEnd(2, '0');
  return whole * 100n + BigInt(fraction);
}

export function fromCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const absolute = cents < 0n ? -cents : cents;
  const fraction = (absolute % 100n).toString().padStart(2, '0');
  return `${sign}${absolute / 100n}.${fraction}`;
}

export function multiply(price: string, quantity: number): string {
  if (!Number.isSafeInteger(quantity)) throw new RangeError(`quantity must be an integer, got ${quantity}`);
  return fromCents(toCents(price) * BigInt(quantity));
}

export function sum(amounts: readonly string[]): string {
  return fromCents(amounts.reduce((total, amount) => total + toCents(amount), 0n));
}

/** Postgres numeric(12,2) arrives as "1299.99"; normalize anything else to two decimals. */
export function normalize(value: string): string {
  return fromCents(toCents(value));
}
