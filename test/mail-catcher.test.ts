import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startMailCatcher, type MailCatcher } from '../scripts/mail-catcher.ts';

interface Inbox {
  items: Array<{ id: number; from: string; to: string; subject: string; message_id: string; date: string; text: string }>;
  total: number;
}

describe('mail catcher', () => {
  let catcher: MailCatcher;
  let transport: ReturnType<typeof nodemailer.createTransport>;
  const api = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${catcher.httpPort}${path}`, init);
  const inbox = async () => (await (await api('/api/messages')).json()) as Inbox;

  before(async () => {
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    transport = nodemailer.createTransport(`smtp://127.0.0.1:${catcher.smtpPort}`);
  });
  after(async () => {
    transport?.close();
    await catcher?.close();
  });

  test('catches a message sent over SMTP and serves it back through the API', async () => {
    await api('/api/messages', { method: 'DELETE' });
    const text = 'Thank you for your order.\n\n  2 × Gaming Laptop — 2599.98\nTotal: 2599.98';
    const info = await transport.sendMail({
      from: 'scaleshop <orders@scaleshop.local>',
      to: 'buyer@example.com',
      subject: 'Order 42 confirmed — thank you',
      text,
      messageId: '<order-42-confirmation@scaleshop.local>',
    });
    assert.deepEqual(info.accepted, ['buyer@example.com']);

    const response = await api('/api/messages');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const body = (await response.json()) as Inbox;
    assert.equal(body.total, 1);
    const [mail] = body.items;
    assert.ok(mail);
    assert.deepEqual(
      { from: mail.from, to: mail.to, subject: mail.subject, message_id: mail.message_id, text: mail.text },
      {
        from: 'scaleshop <orders@scaleshop.local>',
        to: 'buyer@example.com',
        subject: 'Order 42 confirmed — thank you',
        message_id: '<order-42-confirmation@scaleshop.local>',
        text,
      },
    );
    assert.ok(Math.abs(Date.parse(mail.date) - Date.now()) < 60_000, mail.date);
    assert.deepEqual(Object.keys(mail).sort(), ['date', 'from', 'id', 'message_id', 'subject', 'text', 'to']);
    assert.deepEqual(catcher.messages()[0]?.envelope, { from: 'orders@scaleshop.local', to: ['buyer@example.com'] });
  });

  test('lists newest first and DELETE clears the inbox', async () => {
    await api('/api/messages', { method: 'DELETE' });
    for (const subject of ['first', 'second']) await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject, text: subject });
    const body = await inbox();
    assert.deepEqual(body.items.map((mail) => mail.subject), ['second', 'first']);
    assert.equal(body.total, 2);
    const cleared = await api('/api/messages', { method: 'DELETE' });
    assert.equal(cleared.status, 204);
    assert.deepEqual(await inbox(), { items: [], total: 0 });
  });

  test('the inbox page escapes what messages contain', async () => {
    await transport.sendMail({ from: 'x@example.com', to: 'y@example.com', subject: '<script>alert("hi")</script> & more', text: 'body <img src=x onerror=alert(1)>' });
    const response = await api('/');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    const html = await response.text();
    assert.ok(!html.includes('<script>'), 'no raw script tag');
    assert.ok(!html.includes('<img'), 'no raw img tag');
    assert.ok(html.includes('&#60;script&#62;alert(&#34;hi&#34;)&#60;/script&#62; &#38; more'), 'subject shown escaped');
    assert.ok(html.includes('body &#60;img src=x onerror=alert(1)&#62;'));
  });

  test('keeps at most 1000 messages, dropping the oldest', async () => {
    await api('/api/messages', { method: 'DELETE' });
    const pooled = nodemailer.createTransport({ host: '127.0.0.1', port: catcher.smtpPort, pool: true, maxConnections: 5, maxMessages: Infinity });
    try {
      await Promise.all(Array.from({ length: 1003 }, (_, i) => pooled.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: `n${i}`, text: '.' })));
    } finally {
      pooled.close();
    }
    const body = await inbox();
    assert.equal(body.total, 1000);
    const subjects = new Set(body.items.map((mail) => mail.subject));
    assert.equal(subjects.size, 1000);
    // Sent concurrently, they arrive in no fixed order; only three of them can be gone.
    assert.equal([...Array(1003).keys()].filter((i) => !subjects.has(`n${i}`)).length, 3);
  });

  test('decodes encoded subjects and bodies, and reads the text part of a multipart message', async () => {
    await api('/api/messages', { method: 'DELETE' });
    const text = `Grüße aus dem Café ✓ ${'long line '.repeat(20)}`;
    await transport.sendMail({ from: 'Zoë <z@example.com>', to: 'b@example.com', subject: 'Café ✓ — your order', text, html: '<p>html part</p>' });
    const [mail] = (await inbox()).items;
    assert.deepEqual([mail?.subject, mail?.from, mail?.text], ['Café ✓ — your order', 'Zoë <z@example.com>', text]);
  });

  test('unknown routes answer 404', async () => {
    assert.equal((await api('/nope')).status, 404);
  });
});
