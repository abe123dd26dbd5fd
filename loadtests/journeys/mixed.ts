/**
 * mixed: browse and buyer in one stream of arrivals, 80/20: of every five iterations, four
 * browse and the fifth buys. The ratio is fixed by the iteration's number rather than drawn, so
 * that every run of the same length offers exactly the same work.
 */
import type { Scenario } from '../lib/runtime.ts';
import { browse, browseOnce, prepareBrowsing, type BrowseData } from './browse.ts';
import { buyOnce, buyer, prepareBuyers, type BuyerData } from './buyer.ts';

export const buyerEvery = 5;

export interface MixedData {
  browse: BrowseData;
  buyer: BuyerData;
}

export const mixed: Scenario<MixedData> = {
  name: 'mixed',
  description: 'browse and buyer, 80/20: iterations 5, 10, 15… buy, the others browse',
  defaults: { rate: 20, duration: '30s' },
  typicalIterationSeconds: 1,
  requestNames: [...browse.requestNames, ...buyer.requestNames],
  measuresSaga: true,
  async setup(runtime, parameters) {
    return { browse: await prepareBrowsing(runtime), buyer: await prepareBuyers(runtime, parameters, 1 / buyerEvery) };
  },
  async iteration(runtime, data, iteration) {
    if (iteration % buyerEvery === buyerEvery - 1) await buyOnce(runtime, data.buyer, Math.floor(iteration / buyerEvery));
    else await browseOnce(runtime, data.browse);
  },
};
