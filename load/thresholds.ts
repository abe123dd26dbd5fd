/**
 * k6's threshold expressions (`p(99)<250`, `rate<0.01`, `count<1`…), evaluated the way k6 does
 * against the driver's own metrics, so that one set of objectives judges both generators.
 */

export type Aggregation = { kind: 'percentile'; percentile: number } | { kind: 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' | 'value' };

export interface ParsedThreshold {
  aggregation: Aggregation;
  operator: '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';
  bound: number;
}

const expression = /^\s*(p\(\s*(\d+(?:\.\d+)?)\s*\)|avg|min|max|med|count|rate|value)\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

export function parseThreshold(source: string): ParsedThreshold {
  const match = expression.exec(source);
  if (!match) throw new Error(`not a threshold this driver understands: "${source}"`);
  const [, name, percentile, operator, bound] = match;
  const aggregation: Aggregation = percentile !== undefined ? { kind: 'percentile', percentile: Number(percentile) } : { kind: name as 'avg' };
  return { aggregation, operator: operator as ParsedThreshold['operator'], bound: Number(bound) };
}

export function holds(threshold: ParsedThreshold, observed: number): boolean {
  switch (threshold.operator) {
    case '<':
      return observed < threshold.bound;
    case '<=':
      return observed <= threshold.bound;
    case '>':
      return observed > threshold.bound;
    case '>=':
      return observed >= threshold.bound;
    case '==':
    case '===':
      return observed === threshold.bound;
    case '!=':
      return observed !== threshold.bound;
  }
}
