/**
 * Dead letters of the checkout saga.
 *
 *   npm run dlq                          every queue: waiting, dead-lettered, consumers
 *   npm run dlq -- show <queue> [N]      the first N dead letters of a queue, with their last error
 *   npm run dlq -- replay <queue> [N]    move (up to N) dead letters back to their queue
 *
 * RABBITMQ_URL names the broker (default amqp://guest:guest@127.0.0.1:5672).
 */
import { isQueueName, peekDeadLetters, queues, replayDeadLetters, summarizeQueues } from '@scaleshop/platform';

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const [command = 'list', queue, count] = process.argv.slice(2);

function requireQueue(name: string | undefined) {
  if (!name || !isQueueName(name)) {
    console.error(`name a queue: ${Object.keys(queues).join(', ')}`);
    process.exit(2);
  }
  return name;
}

switch (command) {
  case 'list': {
    const rows = await summarizeQueues(url);
    console.log(`${'queue'.padEnd(22)} ${'waiting'.padStart(8)} ${'dead'.padStart(6)} ${'consumers'.padStart(10)}`);
    const cell = (value: number | undefined, width: number) => (value === undefined ? '–' : String(value)).padStart(width);
    for (const row of rows) console.log(`${row.queue.padEnd(22)} ${cell(row.waiting, 8)} ${cell(row.deadLetters, 6)} ${cell(row.consumers, 10)}`);
    if (rows.some((row) => row.waiting === undefined)) console.log('\n– : not declared yet (no service has connected to this broker)');
    break;
  }
  case 'show': {
    const letters = await peekDeadLetters(url, requireQueue(queue), Number(count ?? 20));
    if (letters.length === 0) console.log('no dead letters');
    for (const letter of letters) console.log(`${letter.messageId}  ${letter.type ?? '?'}  after ${letter.attempts ?? '?'} attempts at ${letter.deadLetteredAt ?? '?'}: ${letter.lastError ?? ''}`);
    break;
  }
  case 'replay': {
    const replayed = await replayDeadLetters(url, requireQueue(queue), count === undefined ? undefined : Number(count));
    console.log(`replayed ${replayed} message(s) to ${queue}`);
    break;
  }
  default:
    console.error('usage: npm run dlq -- [list | show <queue> [N] | replay <queue> [N]]');
    process.exit(2);
}
