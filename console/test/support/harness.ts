// What the browser tests run against: the real switchboardd (a generated config, SQLite in a
// temp dir, the built console) and a fake Telegram Bot API on loopback that answers the way
// Telegram documents (https://core.telegram.org/bots/api: {"ok":true,"result":…}).

import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
export const BOT_TOKEN = '123456:E2E-TEST';
export const SECRET = 'e2e-webhook-secret';
// The WhatsApp channel: the Cloud API's phone number id, its token and the app's secret.
export const WA_PHONE_ID = '106540352242922';
export const WA_TOKEN = 'e2e-wa-token';
export const WA_APP_SECRET = 'e2e-wa-app-secret';

export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the ctest entry sets it)`);
  return v;
}

export interface PlatformCall {
  method: string;
  body: any;
}

// A fake platform: an HTTP server on a free loopback port, started and stopped by the tests.
abstract class LoopbackServer {
  protected abstract server: Server;
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections?.();
    return new Promise((r) => this.server.close(() => r()));
  }
}

// The fake Bot API: records every call, answers sendMessage with a Message object.
export class FakeTelegram extends LoopbackServer {
  calls: PlatformCall[] = [];
  refuseOnce = new Set<string>(); // sendMessage texts refused the first time (400, as Telegram does)
  protected server: Server;
  private nextId = 1000;

  constructor() {
    super();
    this.server = createServer((req, res) => void this.handle(req, res).then((body) => {
      if (res.headersSent) return; // a file download answered itself
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
  }

  sent(method = 'sendMessage'): PlatformCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  // Files a customer sent, by file_id: served by getFile and /file/bot<token>/<file_path>.
  files = new Map<string, { path: string; bytes: Buffer }>();

  private async handle(req: IncomingMessage, res?: ServerResponse): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (download && res) {
      const file = [...this.files.values()].find((f) => f.path === download[2]);
      if (download[1] !== BOT_TOKEN || !file) return { ok: false, error_code: 404, description: 'Not Found' };
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(file.bytes.length) });
      res.end(file.bytes);
      return undefined;
    }
    let body: any = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      body = { raw };
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
    if (!m || m[1] !== BOT_TOKEN) return { ok: false, error_code: 404, description: 'Not Found' };
    const method = m[2];
    this.calls.push({ method, body });
    const now = Math.floor(Date.now() / 1000);
    switch (method) {
      case 'getFile': {
        const file = this.files.get(body.file_id);
        if (!file) return { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' };
        return { ok: true, result: { file_id: body.file_id, file_unique_id: `u-${body.file_id}`, file_size: file.bytes.length, file_path: file.path } };
      }
      case 'getMe':
        return { ok: true, result: { id: 123456, is_bot: true, first_name: 'Support', username: 'support_bot' } };
      case 'sendMessage':
        if (this.refuseOnce.delete(body.text)) return { ok: false, error_code: 400, description: 'Bad Request: chat not found' };
        return {
          ok: true,
          result: { message_id: this.nextId++, from: { id: 123456, is_bot: true, first_name: 'Support', username: 'support_bot' },
                    chat: { id: Number(body.chat_id), type: 'private' }, date: now, text: body.text },
        };
      default:
        return { ok: true, result: true };
    }
  }
}

// The fake WhatsApp Cloud API (Graph): records each send to /v21.0/{phone number id}/messages
// and answers as Graph does, {"messaging_product","contacts","messages":[{"id"}]}; a text in
// `outsideWindow` is refused as WhatsApp refuses a message after the 24-hour window (400,
// code 131047).
export class FakeGraph extends LoopbackServer {
  sends: any[] = [];
  outsideWindow = new Set<string>();
  protected server: Server;
  private nextId = 1;

  constructor() {
    super();
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.headers.authorization !== `Bearer ${WA_TOKEN}`)
      return [401, { error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190 } }];
    if (req.method !== 'POST' || !new RegExp(`^/v\\d+\\.\\d+/${WA_PHONE_ID}/messages$`).test(req.url ?? ''))
      return [400, { error: { message: 'Unsupported request', type: 'GraphMethodException', code: 100 } }];
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body.type === 'text' && this.outsideWindow.has(body.text?.body)) {
      return [400, { error: {
        message: '(#131047) Re-engagement message', type: 'OAuthException', code: 131047,
        error_data: { messaging_product: 'whatsapp', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
        fbtrace_id: 'AbCdEfGhIjK',
      } }];
    }
    if (body.status === 'read') return [200, { success: true }]; // a mark-read
    this.sends.push(body);
    return [200, { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: `wamid.E2E${this.nextId++}` }] }];
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class Daemon {
  dir = mkdtempSync(join(tmpdir(), 'sb-console-e2e-'));
  port = 0;
  private child: ChildProcess | null = null;
  log = '';

  constructor(private telegramPort: number, private graphPort = 0) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const config = `
server:
  listen: "127.0.0.1:${this.port}"
  threads: 2
  # Another UI's origin: the console, served by the daemon itself, must still get its WebSocket.
  cors_origins: ["https://agents.example.com"]
storage:
  backend: sqlite
  sqlite:
    path: "${join(this.dir, 'switchboard.db')}"
plugins:
  dir: "${env('SB_PLUGIN_DIR')}"
auth:
  bootstrap_admin_token: "${ADMIN_TOKEN}"
channels:
  - id: tg-support
    plugin: telegram
    receive: webhook
    settings:
      bot_token: "${BOT_TOKEN}"
      secret_token: "${SECRET}"
      api_base: "http://127.0.0.1:${this.telegramPort}"
${this.graphPort ? `  - id: wa-support
    plugin: whatsapp
    settings:
      phone_number_id: "${WA_PHONE_ID}"
      access_token: "${WA_TOKEN}"
      app_secret: "${WA_APP_SECRET}"
      verify_token: "e2e-verify"
      api_base: "http://127.0.0.1:${this.graphPort}/v21.0"
    templates:
      - name: order_update
        language: en_US
        text: "Hello {{1}}, your order {{2}} is on its way."
` : ''}console:
  enabled: true
  dir: "${env('SB_CONSOLE_DIR')}"
log:
  level: info
`;
    writeFileSync(join(this.dir, 'switchboard.yaml'), config);
    const child = spawn(env('SB_DAEMON'), ['--config', join(this.dir, 'switchboard.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.child = child;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`switchboardd exited ${child.exitCode}:\n${this.log}`);
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.ok) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`switchboardd did not come up:\n${this.log}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    this.child = null;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  // What Telegram POSTs to a webhook.
  async customerWrites(update: { updateId: number; messageId: number; chatId: number; firstName: string; lastName?: string; text: string }): Promise<void> {
    const from = { id: update.chatId, is_bot: false, first_name: update.firstName, ...(update.lastName ? { last_name: update.lastName } : {}) };
    await this.telegramUpdate({
      update_id: update.updateId,
      message: { message_id: update.messageId, from, chat: { ...from, type: 'private' }, date: Math.floor(Date.now() / 1000), text: update.text },
    });
  }

  // The customer blocks the bot (or starts it again): Telegram's my_chat_member update.
  async customerBlocks(update: { updateId: number; chatId: number; firstName: string; blocked: boolean }): Promise<void> {
    const from = { id: update.chatId, is_bot: false, first_name: update.firstName };
    const bot = { id: 1, is_bot: true, first_name: 'Bot' };
    await this.telegramUpdate({
      update_id: update.updateId,
      my_chat_member: {
        chat: { ...from, type: 'private' }, from, date: Math.floor(Date.now() / 1000),
        old_chat_member: { status: update.blocked ? 'member' : 'kicked', user: bot },
        new_chat_member: { status: update.blocked ? 'kicked' : 'member', user: bot },
      },
    });
  }

  // Any Telegram Update, as Telegram POSTs it to the channel's webhook.
  async telegramUpdate(body: unknown): Promise<void> {
    const r = await fetch(`${this.url}/webhooks/tg-support`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': SECRET },
      body: JSON.stringify(body),
    });
    if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
  }

  // What WhatsApp POSTs to a webhook: a customer's text, sent `ageMs` ago, signed with the app
  // secret over the exact bytes (X-Hub-Signature-256).
  async whatsappCustomerWrites(m: { wamid: string; from: string; name: string; text: string; ageMs?: number }): Promise<void> {
    const timestamp = String(Math.floor((Date.now() - (m.ageMs ?? 0)) / 1000));
    await this.whatsappWebhook({
      contacts: [{ profile: { name: m.name }, wa_id: m.from }],
      messages: [{ from: m.from, id: m.wamid, timestamp, type: 'text', text: { body: m.text } }],
    });
  }

  // Many texts of one customer in one webhook, as WhatsApp batches them (`messages` holds each).
  async whatsappCustomerWritesMany(m: { wamidPrefix: string; from: string; name: string; texts: string[] }): Promise<void> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    await this.whatsappWebhook({
      contacts: [{ profile: { name: m.name }, wa_id: m.from }],
      messages: m.texts.map((text, i) => ({ from: m.from, id: `${m.wamidPrefix}.${i}`, timestamp, type: 'text', text: { body: text } })),
    });
  }

  // WhatsApp's status of a message the business sent (sent, delivered, read).
  async whatsappStatus(wamid: string, status: string, recipient: string): Promise<void> {
    await this.whatsappWebhook({
      statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: recipient,
                   conversation: { id: '7270c2a1b8c1d0e3f4a5b6c7d8e9f0a1', origin: { type: 'service' } },
                   pricing: { billable: true, pricing_model: 'CBP', category: 'service' } }],
    });
  }

  private async whatsappWebhook(value: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp',
        metadata: { display_phone_number: '15550783881', phone_number_id: WA_PHONE_ID },
        ...value,
      } }] }],
    });
    const signature = 'sha256=' + createHmac('sha256', WA_APP_SECRET).update(body).digest('hex');
    const r = await fetch(`${this.url}/webhooks/wa-support`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature },
      body,
    });
    if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
  }

  async api<T = any>(method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: T }> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : (undefined as T) };
  }

  // Whether a route exists: a known path answers 405 to another method, an unknown one 404.
  async has(path: string): Promise<boolean> {
    const r = await fetch(`${this.url}${path}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    return r.status !== 404;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until<T>(what: string, f: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(50);
  }
}
