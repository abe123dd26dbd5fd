import pg from 'pg';
import type { Logger } from '../logger.ts';

export interface NotificationListener {
  /** Settles once the first LISTEN is in place; notifications before that are not seen. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * LISTENs on a channel over a dedicated connection and reconnects after failures.
 * `onReconnect` runs after every reconnection, because notifications sent while we were
 * disconnected are lost and the caller must resynchronize.
 */
export function listenForNotifications(options: {
  url: string;
  channel: string;
  logger: Logger;
  onNotification: (payload: string) => void;
  onReconnect?: () => void;
  retryDelayMs?: number;
}): NotificationListener {
  const { url, channel, logger, onNotification, onReconnect } = options;
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
  let client: pg.Client | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let connectedBefore = false;
  let failedAttempts = 0;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const scheduleRetry = () => {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, retryDelayMs);
  };

  const connect = async () => {
    const current = new pg.Client({ connectionString: url, application_name: `listen:${channel}` });
    client = current;
    current.on('notification', (message) => {
      if (message.channel === channel) onNotification(message.payload ?? '');
    });
    current.on('error', (error) => {
      logger.warn({ err: error, channel }, 'notification connection failed; reconnecting');
      current.end().catch(() => {});
      scheduleRetry();
    });
    try {
      await current.connect();
      await current.query(`listen ${channel}`);
      if (failedAttempts > 0) logger.info({ channel, failed_attempts: failedAttempts }, 'listening for notifications again');
      failedAttempts = 0;
      if (connectedBefore) onReconnect?.();
      connectedBefore = true;
      markReady();
    } catch (error) {
      if (stopped) return;
      // Once per outage, not once a second for as long as it lasts.
      if (failedAttempts++ === 0) logger.warn({ err: error, channel, retry_every_ms: retryDelayMs }, 'cannot listen for notifications; retrying');
      current.end().catch(() => {});
      scheduleRetry();
    }
  };

  void connect();
  return {
    ready,
    async close() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      await client?.end().catch(() => {});
    },
  };
}
