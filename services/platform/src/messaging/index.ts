export * from './contracts.ts';
export * from './broker.ts';
export * from './outbox.ts';
export * from './consumer.ts';
export * from './runtime.ts';
export * from './dead-letters.ts';
