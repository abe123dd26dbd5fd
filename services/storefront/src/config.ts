import { topology } from '@scaleshop/platform';

/** The storefront's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const storefrontConfig = topology.storefront.config;
