import type { Scenario, ScenarioName } from '../lib/runtime.ts';
import { browse } from './browse.ts';
import { buyer } from './buyer.ts';
import { hotItem } from './hot-item.ts';
import { mixed } from './mixed.ts';

export const scenarios: Readonly<Record<ScenarioName, Scenario<unknown>>> = { browse, buyer, 'hot-item': hotItem, mixed };
