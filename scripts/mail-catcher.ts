/**
 * A local SMTP server that keeps every message it is given instead of delivering it, with a
 * small web page and JSON API to read them: local mode's stand-in for MailHog or Mailpit.
 *
 *   node scripts/mail-catcher.ts     SMTP on 1025, inbox on http://127.0.0.1:8025
 *
 * MAIL_CATCHER_SMTP_PORT, MAIL_CATCHER_HTTP_PORT and MAIL_CATCHER_HOST change where it listens.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface CaughtMail {
  id: number;
  /** The From, To, Subject, Message-ID headers, decoded; the envelope's addresses when a header is missing. */
  from: string;
  to: string;
  subject: string;
  message_id: string;
  /** The Date header as ISO 8601, or when the message arrived. */
  date: string;
  text: string;
  envelope: { from: string; to: string[] };
}

export interface MailCatcher {
  smtpPort: number;
  httpPort: number;
  /** Newest first. */
  messages(): CaughtMail[];
  close(): Promise<void>;
}

/** Oldest messages are dropped beyond this (by default), so a long session does not grow without bound. */
const defaultCapacity = 1_000;
const maxMessageBytes = 1024 * 1024;

export async function startMailCatcher(options: { smtpPort?: number; httpPort?: number; host?: string; capacity?: number } = {}): Promise<MailCatcher> {
  const host = options.host ?? '127.0.0.1';
  const capacity = options.capacity ?? defaultCapacity;
  const caught: CaughtMail[] = [];
  let nextId = 1;

  const keep = (raw: Buffer, session: SMTPServerSession) => {
    caught.push(parseMail(nextId++, raw.toString('utf8'), session));
    if (caught.length > capacity) caught.splice(0, caught.length - capacity);
  };

  const smtp = new SMTPServer({
    // Anyone may send, with or without credentials: nothing leaves this machine.
    authOptional: true,
    allowInsecureAuth: true,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username ?? 'anonymous' }),
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    size: maxMessageBytes,
    logger: false,
    // Clients idling on a pooled connection would otherwise hold close() for 30 s.
    closeTimeout: 500,
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => callback(error));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(Object.assign(new Error('message exceeds the size limit'), { responseCode: 552 }));
        keep(Buffer.concat(chunks), session);
        callback();
      });
    },
  });
  smtp.on('error', () => {}); // a client's broken connection is the client's problem

  const messages = () => caught.toReversed();
  const http = createServer((request, response) => {
    try {
      route(request, response, messages, () => caught.splice(0));
    } catch {
      if (!response.headersSent) response.writeHead(500).end();
    }
  });

  const smtpPort = await listen(smtp.server, options.smtpPort ?? 1025, host).catch((error: Error) => {
    throw new Error(`mail catcher cannot listen for SMTP on ${host}:${options.smtpPort ?? 1025}: ${error.message}`);
  });
  let httpPort: number;
  try {
    httpPort = await listen(http, options.httpPort ?? 8025, host);
  } catch (error) {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    throw new Error(`mail catcher cannot listen for HTTP on ${host}:${options.httpPort ?? 8025}: ${(error as Error).message}`);
  }

  let closing: Promise<void> | undefined;
  return {
    smtpPort,
    httpPort,
    messages,
    close() {
      closing ??= Promise.all([
        new Promise<void>((resolve) => smtp.close(() => resolve())),
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        }),
      ]).then(() => undefined);
      return closing;
    },
  };
}

function listen(server: Server | NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function route(request: IncomingMessage, response: ServerResponse, messages: () => CaughtMail[], clear: () => void): void {
  const path = new URL(request.url ?? '/', 'http://catcher').pathname;
  if (path === '/api/messages' && request.method === 'GET') {
    const items = messages().map(({ id, from, to, subject, message_id, date, text }) => ({ id, from, to, subject, message_id, date, text }));
    return send(response, 200, 'application/json', JSON.stringify({ items, total: items.length }));
  }
  if (path === '/api/messages' && request.method === 'DELETE') {
    clear();
    response.writeHead(204).end();
    return;
  }
  if (path === '/' && (request.method === 'GET' || request.method === 'HEAD')) {
    return send(response, 200, 'text/html; charset=utf-8', inboxPage(messages()), {
      // Whatever a message contains, the page runs no script of it.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
  }
  if (path === '/' || path === '/api/messages') return send(response, 405, 'application/json', JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: `${request.method} not allowed` } }));
  send(response, 404, 'application/json', JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${path}` } }));
}

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers }).end(body);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function inboxPage(messages: readonly CaughtMail[]): string {
  const rows = messages
    .map(
      (mail) => `<details>
  <summary><b>${escapeHtml(mail.subject || '(no subject)')}</b> — ${escapeHtml(mail.to)} <small>${escapeHtml(mail.date)}</small></summary>
  <p><small>From ${escapeHtml(mail.from)} · Message-ID ${escapeHtml(mail.message_id)}</small></p>
  <pre>${escapeHtml(mail.text)}</pre>
</details>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mail catcher (${messages.length})</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
  details { border-bottom: 1px solid #ddd; padding: .5rem 0; }
  pre { white-space: pre-wrap; background: #f6f6f6; padding: .75rem; }
</style>
</head>
<body>
<h1>mail catcher</h1>
<p>${messages.length} message${messages.length === 1 ? '' : 's'}, newest first. JSON at <code>/api/messages</code>; <code>DELETE /api/messages</code> clears them. Reload to refresh.</p>
${rows || '<p><i>No mail yet.</i></p>'}
</body>
</html>
`;
}

/**
 * Just enough MIME to read what services send: unfolded headers with encoded words decoded,
 * and the text body with its transfer encoding undone (the first text/plain part of a
 * multipart message). Anything fancier is shown as it arrived.
 */
export function parseMail(id: number, raw: string, session?: Pick<SMTPServerSession, 'envelope'>): CaughtMail {
  const { headers, body } = splitHeaders(raw);
  const envelope = {
    from: session?.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    to: session?.envelope.rcptTo.map((recipient) => recipient.address) ?? [],
  };
  const dateHeader = headers.get('date');
  const date = dateHeader && !Number.isNaN(Date.parse(dateHeader)) ? new Date(dateHeader).toISOString() : new Date().toISOString();
  return {
    id,
    from: decodeWords(headers.get('from') ?? envelope.from),
    to: decodeWords(headers.get('to') ?? envelope.to.join(', ')),
    subject: decodeWords(headers.get('subject') ?? ''),
    message_id: headers.get('message-id') ?? '',
    date,
    text: textOf(headers, body),
    envelope,
  };
}

function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const match = /\r?\n\r?\n/.exec(raw);
  const head = match ? raw.slice(0, match.index) : raw;
  const body = match ? raw.slice(match.index + match[0].length) : '';
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function textOf(headers: Map<string, string>, body: string, depth = 0): string {
  const contentType = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (/^multipart\//i.test(contentType) && boundary && depth < 5) {
    const parts = body.split(new RegExp(`^--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?$`, 'm')).slice(1, -1);
    const parsed = parts.map((part) => splitHeaders(part.replace(/^\r?\n/, '')));
    const plain = parsed.find((part) => /^text\/plain/i.test(part.headers.get('content-type') ?? 'text/plain')) ?? parsed[0];
    return plain ? textOf(plain.headers, plain.body, depth + 1) : body;
  }
  const charset = /charset="?([^";\s]+)"?/i.exec(contentType)?.[1] ?? 'utf-8';
  const encoding = (headers.get('content-transfer-encoding') ?? '').toLowerCase();
  const text = encoding === 'quoted-printable' ? decodeBytes(quotedPrintableBytes(body.replace(/=\r?\n/g, '')), charset) : encoding === 'base64' ? decodeBytes(Buffer.from(body, 'base64'), charset) : body;
  return text.replace(/\r\n/g, '\n').replace(/\n$/, '');
}

function quotedPrintableBytes(text: string): Buffer {
  const bytes: number[] = [];
  const utf8 = Buffer.from(text, 'utf8');
  for (let i = 0; i < utf8.length; i++) {
    const hex = utf8[i] === 0x3d ? utf8.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(utf8[i]!);
    }
  }
  return Buffer.from(bytes);
}

function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** RFC 2047 encoded words, e.g. =?UTF-8?Q?Caf=C3=A9?=; the space between two of them is not text. */
function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?[^?]+\?[BbQq]\?[^?]*\?=)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_word, charset: string, encoding: string, text: string) =>
      decodeBytes(encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : quotedPrintableBytes(text.replace(/_/g, ' ')), charset.replace(/\*.*$/, '')),
    );
}

if (import.meta.main) {
  const { env, loadConfig } = await import('@scaleshop/platform');
  const settings = { MAIL_CATCHER_SMTP_PORT: env.port(1025), MAIL_CATCHER_HTTP_PORT: env.port(8025), MAIL_CATCHER_HOST: env.string('127.0.0.1') };
  try {
    const config = loadConfig(settings);
    const host = config.MAIL_CATCHER_HOST;
    const catcher = await startMailCatcher({ smtpPort: config.MAIL_CATCHER_SMTP_PORT, httpPort: config.MAIL_CATCHER_HTTP_PORT, host });
    process.stdout.write(`mail catcher running
  SMTP    smtp://${host}:${catcher.smtpPort}   (the email service's SMTP_URL)
  inbox   http://${host}:${catcher.httpPort}/   (JSON: GET/DELETE /api/messages)
Press Ctrl-C to stop.
`);
    const stop = () => void catcher.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (error) {
    process.stderr.write(`mail catcher failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
