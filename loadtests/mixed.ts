/** k6 run loadtests/mixed.ts: the mixed journey (loadtests/journeys/mixed.ts) at a constant arrival rate. See docs/load.md. */
import { mixed } from './journeys/mixed.ts';
import { k6Script } from './k6/script.ts';

const script = k6Script(mixed);

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
export const handleSummary = script.handleSummary;
