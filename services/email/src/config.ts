import { topology } from '@scaleshop/platform';

/** The email service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const emailConfig = topology.email.config;
