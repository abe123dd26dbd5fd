/** k6 run loadtests/buyer.ts: the buyer journey (loadtests/journeys/buyer.ts) at a constant arrival rate. See docs/load.md. */
import { buyer } from './journeys/buyer.ts';
import { k6Script } from './k6/script.ts';

const script = k6Script(buyer);

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
export const handleSummary = script.handleSummary;
