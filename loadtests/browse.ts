/** k6 run loadtests/browse.ts: the browse journey (loadtests/journeys/browse.ts) at a constant arrival rate. See docs/load.md. */
import { browse } from './journeys/browse.ts';
import { k6Script } from './k6/script.ts';

const script = k6Script(browse);

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
export const handleSummary = script.handleSummary;
