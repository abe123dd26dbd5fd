import { topology } from '@scaleshop/platform';

/** The product service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const productConfig = topology.product.config;
