/** Options for routes that serve the platform, not the API (health, metrics, documentation): quiet in logs, absent from the published API. */
export const infrastructureRoute = { logLevel: 'warn', schema: { hide: true } } as const;
