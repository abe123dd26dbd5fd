import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Channel, ConsumeMessage } from 'amqplib';
import { channelAcks } from '../src/messaging/acks.ts';

/**
 * The broker's side of one channel, as AMQP 0-9-1 defines it: `multiple` settles every
 * unsettled delivery up to the tag, and settling a tag twice is a channel error
 * (PRECONDITION_FAILED), which would close the channel and requeue everything on it.
 */
function brokerChannel(tags: number[], options: { closed?: boolean } = {}) {
  const unsettled = new Set(tags);
  const frames: string[] = [];
  const settle = (tag: number, multiple: boolean) => {
    if (options.closed) throw new Error('Channel closed');
    if (!unsettled.has(tag)) throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    for (const other of [...unsettled]) if (other === tag || (multiple && other < tag)) unsettled.delete(other);
  };
  const channel = {
    ack(message: ConsumeMessage, multiple = false) {
      settle(message.fields.deliveryTag, multiple);
      frames.push(`ack ${message.fields.deliveryTag}${multiple ? '+' : ''}`);
    },
    nack(message: ConsumeMessage, multiple = false, requeue = true) {
      settle(message.fields.deliveryTag, multiple);
      frames.push(`nack ${message.fields.deliveryTag}${requeue ? ' requeue' : ''}`);
    },
  };
  const messages = tags.map((deliveryTag) => ({ fields: { deliveryTag } }) as ConsumeMessage);
  return { channel: channel as unknown as Channel, frames, unsettled, messages };
}

test('finished deliveries at the front go as one frame; those behind one still in progress go singly, and each tag is settled once', async () => {
  const broker = brokerChannel([1, 2, 3, 4, 5, 6]);
  const acks = channelAcks(broker.channel);
  broker.messages.forEach((message) => acks.delivered(message));
  for (const tag of [2, 1, 3, 5, 6]) acks.ack(broker.messages[tag - 1]!);
  assert.deepEqual(broker.frames, [], 'nothing is sent before the next turn');
  await nextTurn();
  assert.deepEqual(broker.frames, ['ack 3+', 'ack 5', 'ack 6']);
  assert.deepEqual([...broker.unsettled], [4], 'the one in progress stays unacked');

  acks.ack(broker.messages[3]!);
  await nextTurn();
  assert.equal(broker.frames.length, 4);
  assert.deepEqual([...broker.unsettled], []);
});

test('a later run starts after the deliveries already acked', async () => {
  const broker = brokerChannel([1, 2, 3, 4]);
  const acks = channelAcks(broker.channel);
  broker.messages.forEach((message) => acks.delivered(message));
  acks.ack(broker.messages[1]!);
  await nextTurn();
  for (const index of [0, 2, 3]) acks.ack(broker.messages[index]!);
  await nextTurn();
  assert.deepEqual(broker.frames, ['ack 2', 'ack 4+']);
  assert.deepEqual([...broker.unsettled], []);
});

test('a requeued delivery no longer holds back the run behind it', () => {
  const broker = brokerChannel([1, 2, 3]);
  const acks = channelAcks(broker.channel);
  broker.messages.forEach((message) => acks.delivered(message));
  acks.requeue(broker.messages[0]!);
  acks.ack(broker.messages[1]!);
  acks.ack(broker.messages[2]!);
  acks.flush();
  assert.deepEqual(broker.frames, ['nack 1 requeue', 'ack 3+']);
  assert.deepEqual([...broker.unsettled], []);
});

test('on a closed channel nothing throws: the broker takes the unacked messages back itself', () => {
  const broker = brokerChannel([1], { closed: true });
  const acks = channelAcks(broker.channel);
  acks.delivered(broker.messages[0]!);
  acks.ack(broker.messages[0]!);
  assert.doesNotThrow(() => acks.flush());
});
