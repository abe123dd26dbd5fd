import { test } from 'node:test';
import assert from 'node:assert/strict';
import { money } from '@scaleshop/platform';

test('computes exactly where floats would not', () => {
  assert.equal(0.1 + 0.2 === 0.3, false);
  assert.equal(money.sum(['0.10', '0.20']), '0.30');
  assert.equal(money.multiply('8.49', 3), '25.47');
  assert.equal(money.multiply('1299.99', 3), '3899.97');
  assert.equal(money.sum(['1299.99', '8.49', '0.01']), '1308.49');
  assert.equal(money.sum([]), '0.00');
});

test('normalizes to two decimals', () => {
  assert.equal(money.normalize('5'), '5.00');
  assert.equal(money.normalize('34.5'), '34.50');
  assert.equal(money.normalize('0.07'), '0.07');
});

test('refuses what is not an amount', () => {
  for (const bad of ['', '-1', '1.234', '01.00', 'abc', '1e3', ' 1']) {
    assert.equal(money.isMoney(bad), false, bad);
    assert.throws(() => money.toCents(bad), RangeError);
  }
  assert.throws(() => money.multiply('1.00', 1.5), RangeError);
});

test('knows the largest amount the numeric(12,2) columns hold, and computes past it without losing a cent', () => {
  assert.equal(money.fitsStorage('9999999999.99'), true);
  assert.equal(money.fitsStorage('10000000000.00'), false);
  // 9,999,999,999.99 x 1,000 = 9,999,999,999,990.00: a cart may hold that, an order may not.
  assert.equal(money.multiply('9999999999.99', 1000), '9999999999990.00');
  assert.equal(money.sum(['9999999999990.00', '0.01']), '9999999999990.01');
  assert.equal(money.fitsStorage(money.multiply('9999999999.99', 1000)), false);
});
