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
