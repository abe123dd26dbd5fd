import { topology } from '@scaleshop/platform';

/** The order service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const orderConfig = topology.order.config;
