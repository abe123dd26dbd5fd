import { Type } from 'typebox';
import { uuidPattern } from './identity.ts';
import { maxStoredAmount, moneyJsonPattern } from './money.ts';

/** An amount as the API carries it: an exact decimal string that fits the services' numeric(12,2) columns. */
export const Money = Type.String({ pattern: moneyJsonPattern, description: `exact decimal amount, at most ${maxStoredAmount}`, examples: ['1299.99'] });

/** An id of a uuid column. A pattern rather than format: 'uuid', so path parameters are checked the same way. */
export const Uuid = Type.String({ pattern: uuidPattern });

/** The largest value a Postgres integer (int4) column, and a serial id, holds. */
export const maxInt4 = 2_147_483_647;

/** An id from a serial column: anything larger would fail in the statement rather than find nothing. */
export const SerialId = Type.Integer({ minimum: 1, maximum: maxInt4 });

/**
 * `limit` and `offset` of a list route. The offset is bounded by what Postgres's OFFSET takes
 * in an int4, so that a huge one is a 400 naming it rather than a failed statement.
 */
export const pageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: maxInt4, default: 0 }),
};
