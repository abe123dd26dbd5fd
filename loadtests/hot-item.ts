/** k6 run loadtests/hot-item.ts: the hot-item journey (loadtests/journeys/hot-item.ts) at a constant arrival rate. See docs/load.md. */
import { hotItem } from './journeys/hot-item.ts';
import { k6Script } from './k6/script.ts';

const script = k6Script(hotItem);

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
export const handleSummary = script.handleSummary;
