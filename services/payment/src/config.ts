import { topology } from '@scaleshop/platform';

/** The payment service's settings: its spec lives with the rest of the shop's topology, in the platform. */
export const paymentConfig = topology.payment.config;
