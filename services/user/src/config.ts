import { topology } from '@scaleshop/platform';

/** The user service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const userConfig = topology.user.config;
