import { topology } from '@scaleshop/platform';

/** The gateway service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const gatewayConfig = topology.gateway.config;
