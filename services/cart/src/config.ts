import { topology } from '@scaleshop/platform';

/** The cart service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const cartConfig = topology.cart.config;
