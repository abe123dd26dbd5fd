/**
 * Money arrives as exact decimal strings ("1299.99") and is only ever displayed here: totals
 * come from the server, so the browser never adds amounts up in floating point. Intl formats
 * a decimal string exactly (it takes strings as decimals since ES2023's Intl.NumberFormat v3).
 */
const formatter = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

export function formatMoney(amount: string): string {
  return formatter.format(amount as `${number}`);
}
