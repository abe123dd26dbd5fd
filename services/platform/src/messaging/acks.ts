import type { Channel, ConsumeMessage } from 'amqplib';

/** The acks of one consumer channel, sent as few frames as the order of completion allows. */
export interface ChannelAcks {
  channel: Channel;
  /** Every delivery is registered as it arrives, in delivery order. */
  delivered(message: ConsumeMessage): void;
  /** Acks the message on the next turn of the event loop, together with the others finished by then. */
  ack(message: ConsumeMessage): void;
  /** Returns the message to the queue at once. */
  requeue(message: ConsumeMessage): void;
  /** Sends the acks still waiting for the next turn, e.g. before the channel closes. */
  flush(): void;
}

/**
 * Messages finish out of order, but one ack with `multiple` settles every earlier delivery of
 * the channel. So the longest run of finished deliveries at the front goes as one frame, and
 * only the finished ones behind a delivery still in progress are acked one by one — never
 * held back, as an unacked message keeps a prefetch slot. A channel that is gone takes its
 * unacked messages back to the queue by itself; they are then redelivered, and the consumer's
 * claim finds them already processed.
 */
export function channelAcks(channel: Channel): ChannelAcks {
  const unsettled = new Map<number, ConsumeMessage>();
  const finished = new Set<number>();
  let scheduled = false;

  const attempt = (send: () => void) => {
    try {
      send();
    } catch {
      // the channel is closed: the broker requeues what it had not been told about
    }
  };

  const flush = () => {
    scheduled = false;
    let lastOfRun: ConsumeMessage | undefined;
    for (const [tag, message] of unsettled) {
      if (!finished.has(tag)) break;
      lastOfRun = message;
    }
    if (lastOfRun) {
      const upTo = lastOfRun.fields.deliveryTag;
      attempt(() => channel.ack(lastOfRun, true));
      for (const tag of unsettled.keys()) {
        if (tag > upTo) break;
        unsettled.delete(tag);
        finished.delete(tag);
      }
    }
    for (const tag of finished) {
      const message = unsettled.get(tag);
      unsettled.delete(tag);
      if (message) attempt(() => channel.ack(message));
    }
    finished.clear();
  };

  return {
    channel,
    delivered(message) {
      unsettled.set(message.fields.deliveryTag, message);
    },
    ack(message) {
      finished.add(message.fields.deliveryTag);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    requeue(message) {
      unsettled.delete(message.fields.deliveryTag);
      finished.delete(message.fields.deliveryTag);
      attempt(() => channel.nack(message, false, true));
    },
    flush,
  };
}
