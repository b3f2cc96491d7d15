// End-to-end tests of the console in a real browser: Debian's chromium driven by playwright-core,
// against the real switchboardd (temp config, SQLite in a temp dir) and a fake Telegram Bot API.
// Screenshots of each page go to $SB_ARTIFACTS. Tests of features a newer daemon brings (notes,
// media, read state across tabs) skip, saying why, while the daemon does not serve them.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ADMIN_TOKEN, Daemon, env, FakeGraph, FakeTelegram, sleep, until } from './support/harness';

const CHROMIUM = process.env.SB_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = env('SB_ARTIFACTS');
const WAIT = 10_000;

let telegram: FakeTelegram;
let graph: FakeGraph;
let daemon: Daemon;
let browser: Browser;
let updateId = 1;
let messageId = 1;
const contexts: BrowserContext[] = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  telegram = new FakeTelegram();
  await telegram.start();
  graph = new FakeGraph();
  await graph.start();
  daemon = new Daemon(telegram.port, graph.port);
  await daemon.start();
  // Running as root (CI, containers) chromium needs --no-sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});

// Each test's tabs close when it ends: tabs left open would keep receiving every later test's
// frames, and the suite would slow as it goes.
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await daemon?.stop();
  await telegram?.stop();
  await graph?.stop();
  if (process.exitCode) console.log(`daemon log:\n${daemon?.log}`);
  daemon?.cleanup();
});

// A signed-in tab. Every page records CSP violations and script errors, so a test can check
// that nothing a customer wrote was run.
async function agentPage(token: string, options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number }; permissions?: string[]; init?: () => void } = {}): Promise<Page> {
  const context = await browser.newContext({ colorScheme: options.colorScheme ?? 'light', viewport: options.viewport ?? { width: 1280, height: 800 }, permissions: options.permissions });
  contexts.push(context);
  const page = await context.newPage();
  if (options.init) await page.addInitScript(options.init);
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as any).__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(daemon.url + '/');
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-link=connected]').waitFor({ timeout: WAIT });
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

// axe-core in the page (evaluated over the DevTools protocol, which the page's CSP does not
// govern); serious and critical violations fail the test.
async function checkAccessibility(page: Page, name: string): Promise<void> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const result: any = await page.evaluate(async () => (window as any).axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v: any) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v: any) => `${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target.join(' ')).slice(0, 3).join(', ')})`), [], `accessibility of ${name}`);
}

async function customer(chatId: number, firstName: string, text: string, lastName?: string): Promise<void> {
  await daemon.customerWrites({ updateId: updateId++, messageId: messageId++, chatId, firstName, lastName, text });
}

async function conversationOf(chatId: number): Promise<any> {
  return until(`conversation of chat ${chatId}`, async () => {
    const r = await daemon.api('GET', '/api/v1/conversations?status=open,resolved&limit=200');
    if (r.status === 400) {
      // Today's daemon takes one status at a time.
      const open = await daemon.api('GET', '/api/v1/conversations?limit=200');
      return open.body.items.find((c: any) => c.platform_id === String(chatId));
    }
    return r.body.items.find((c: any) => c.platform_id === String(chatId));
  });
}

async function makeAgent(name: string): Promise<{ id: string; token: string }> {
  const agent = await daemon.api('POST', '/api/v1/agents', { name, role: 'agent' });
  assert.equal(agent.status, 201);
  const token = await daemon.api('POST', `/api/v1/agents/${agent.body.id}/tokens`, { label: 'e2e' });
  assert.equal(token.status, 201);
  return { id: agent.body.id, token: token.body.token };
}

// Saves what the page showed when a step failed, then fails with its error.
async function orShot<T>(page: Page, name: string, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (e) {
    await shot(page, `failed-${name}`).catch(() => undefined);
    throw e;
  }
}

function row(page: Page, name: string) {
  return page.locator('li.row', { hasText: name });
}

test('the console is served with its security headers; traversal is refused', async () => {
  const index = await fetch(daemon.url + '/');
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
  const csp = index.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(index.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const html = await index.text();
  assert.doesNotMatch(html, /<script>(?!<)/, 'no inline script');
  const asset = /src="(console\/[0-9a-f]+\/app\.js)"/.exec(html)![1];
  const js = await fetch(`${daemon.url}/${asset}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  const etag = js.headers.get('etag')!;
  const again = await fetch(`${daemon.url}/${asset}`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  // Raw requests: fetch() would normalize the dots away before sending.
  for (const path of ['/console/../../etc/passwd', '/console/%2e%2e/%2e%2e/etc/passwd', '/console/x/..%2f..%2fswitchboard.yaml', '/console/.hidden/app.js']) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: daemon.port, path, method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 404, path);
  }
});

test('sign in, inbox and a customer message that arrives live (list and open conversation)', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await checkAccessibility(page, 'inbox (empty)');
  await customer(7001, 'Ada', 'Hello, my order has not arrived', 'Lovelace');
  const r = row(page, 'Ada Lovelace');
  await r.waitFor({ timeout: WAIT });
  await until('preview in the row', async () => (await r.textContent())?.includes('my order has not arrived'));
  // Unread badge from the live frame.
  await r.locator('.badge').waitFor({ timeout: WAIT });
  await shot(page, 'inbox');
  await r.click();
  await page.locator('.msg.in', { hasText: 'my order has not arrived' }).waitFor({ timeout: WAIT });
  // A second message shows in the open conversation, and the row moves to the top.
  await customer(7002, 'Bob', 'Another customer');
  await customer(7001, 'Ada', 'Are you there?', 'Lovelace');
  await page.locator('.msg.in', { hasText: 'Are you there?' }).waitFor({ timeout: WAIT });
  await until('Ada on top', async () => (await page.locator('li.row').first().textContent())?.includes('Ada Lovelace'));
  await shot(page, 'conversation');
  await checkAccessibility(page, 'conversation');
  // Keyboard: Esc back to the list, j/k move, Enter opens.
  await page.locator('.history').focus();
  await page.keyboard.press('Escape');
  await until('back to the list', async () => !(await page.locator('.conv-head').count()));
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  // (Where the focus is goes into the failure's message: this step once failed, unexplained.)
  await orShot(page, 'keyboard-jj', until('second row focused', async () => page.evaluate(() => document.activeElement?.matches('li.row') && document.activeElement === document.querySelectorAll('li.row')[1]))
    .catch(async (e) => { throw new Error(`${e.message}; focus on ${await page.evaluate(() => `${document.activeElement?.tagName}.${document.activeElement?.className} of ${document.querySelectorAll('li.row').length} rows`)}`); }));
  await page.keyboard.press('k');
  await page.keyboard.press('Enter');
  await page.locator('.conv-head h1', { hasText: 'Ada Lovelace' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await page.evaluate(() => (window as any).__violations), []);
});

test('a reply reaches the platform and shows as sent; Shift+Enter is a newline', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7101, 'Carla', 'Can I change my address?');
  await row(page, 'Carla').click();
  const box = page.getByLabel('Reply', { exact: true });
  await box.fill('Of course');
  // Typing shows at the customer's (Telegram: sendChatAction "typing").
  const typing = await until('sendChatAction', () => telegram.sent('sendChatAction').find((c) => c.body.chat_id == 7101));
  assert.equal(typing.body.action, 'typing');
  await box.press('Shift+Enter');
  await box.pressSequentially('what is the new one?');
  await box.press('Enter');
  const sent = await until('sendMessage at the fake Telegram', () => telegram.sent().find((c) => c.body.chat_id == 7101));
  assert.equal(sent.body.text, 'Of course\nwhat is the new one?');
  const bubble = page.locator('.msg.out', { hasText: 'what is the new one?' });
  await bubble.waitFor({ timeout: WAIT });
  await bubble.locator('.tick-sent').waitFor({ timeout: WAIT });
  assert.equal(await box.inputValue(), '');
});

test('a refused reply shows why; Retry resends the same message row', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7151, 'Lena', 'Please call me back');
  await row(page, 'Lena').click();
  telegram.refuseOnce.add('Calling you now');
  const box = page.getByLabel('Reply', { exact: true });
  await box.fill('Calling you now');
  await box.press('Enter');
  const failed = page.locator('.msg.out', { hasText: 'Calling you now' });
  await failed.locator('.failed', { hasText: 'chat not found' }).waitFor({ timeout: WAIT });
  await shot(page, 'failed-send');
  await checkAccessibility(page, 'a failed send');
  await failed.getByRole('button', { name: 'Retry' }).click();
  await failed.locator('.tick-sent').waitFor({ timeout: WAIT });
  assert.equal(telegram.sent().filter((c) => c.body.text === 'Calling you now').length, 2);
  // The original Idempotency-Key again: the daemon resent the failed row, not a second message.
  const conv = await conversationOf(7151);
  const history = await daemon.api('GET', `/api/v1/conversations/${conv.id}/messages?limit=50`);
  const rows = history.body.items.filter((m: any) => m.content.text === 'Calling you now');
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, 'sent');
  assert.equal(await page.locator('.msg.out', { hasText: 'Calling you now' }).count(), 1);
});

test('an XSS payload in a customer name and text stays text', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  const name = '<img src=x onerror="window.__xss=1">';
  const text = '<script>window.__xss=2</script><img src=y onerror="window.__xss=3"> javascript:window.__xss=4 https://example.com/ok';
  await customer(7201, name, text);
  const r = row(page, '<img src=x');
  await r.waitFor({ timeout: WAIT });
  await r.click();
  const bubble = page.locator('.msg.in', { hasText: '<script>window.__xss=2</script>' });
  await bubble.waitFor({ timeout: WAIT });
  assert.equal(await page.locator('.msg img, li.row img, .conv-head img').count(), 0, 'no element was made from customer text');
  assert.equal(await page.locator('script:not([src])').count(), 0);
  // Only the https link is a link, opened without referrer or opener.
  const links = page.locator('.msg.in a');
  assert.equal(await links.count(), 1);
  assert.equal(await links.first().getAttribute('href'), 'https://example.com/ok');
  assert.match((await links.first().getAttribute('rel')) ?? '', /noopener noreferrer/);
  await sleep(300);
  assert.equal(await page.evaluate(() => (window as any).__xss), undefined);
  assert.deepEqual(await page.evaluate(() => (window as any).__violations), []);
  await shot(page, 'xss-as-text');
});

test('two agents in two browsers: take, conflict, reassignment', async () => {
  const grace = await makeAgent('Grace Hopper');
  const alan = await makeAgent('Alan Turing');
  const g = await agentPage(grace.token);
  const a = await agentPage(alan.token);
  for (const p of [g, a]) await p.getByRole('tab', { name: /Unassigned/ }).click();
  await customer(7301, 'Dora', 'Who will help me?');
  await row(g, 'Dora').waitFor({ timeout: WAIT });
  await row(a, 'Dora').waitFor({ timeout: WAIT });
  // Grace takes it; it leaves her Unassigned tab and is in Mine.
  await row(g, 'Dora').click();
  await g.getByRole('button', { name: 'Take' }).click();
  await g.getByRole('button', { name: 'Hand back' }).waitFor({ timeout: WAIT });
  await g.getByRole('tab', { name: /Mine/ }).click();
  await row(g, 'Dora').waitFor({ timeout: WAIT });
  // Alan, who was not told (conversation_assigned goes to the assignees and admins), opens it
  // too: he is told a colleague was first and the row goes.
  await row(a, 'Dora').click();
  await orShot(a, 'alan-taken', a.locator('.toast', { hasText: 'Already taken' }).waitFor({ timeout: WAIT }));
  await until('Dora gone from Alan\'s unassigned list', async () => (await row(a, 'Dora').count()) === 0);
  // The admin reassigns to Alan: it appears in his Mine tab live and leaves Grace's.
  await a.getByRole('tab', { name: /Mine/ }).click();
  const conv = await conversationOf(7301);
  const moved = await daemon.api('POST', `/api/v1/conversations/${conv.id}/assignment`, { agent_id: alan.id });
  assert.equal(moved.status, 200);
  await row(a, 'Dora').waitFor({ timeout: WAIT });
  await until('Dora gone from Grace\'s list', async () => (await row(g, 'Dora').count()) === 0);
  await shot(a, 'agent-mine');
  // Alan answers; the customer gets it.
  await row(a, 'Dora').click();
  await a.getByLabel('Reply', { exact: true }).fill('I will, Dora.');
  await a.getByLabel('Reply', { exact: true }).press('Enter');
  await until('Alan\'s reply at Telegram', () => telegram.sent().find((c) => c.body.chat_id == 7301 && c.body.text === 'I will, Dora.'));
});

test('the daemon restarts mid-session: the console reconnects and shows what came meanwhile', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7401, 'Eve', 'Before the restart');
  await row(page, 'Eve').click();
  await page.locator('.msg.in', { hasText: 'Before the restart' }).waitFor({ timeout: WAIT });
  await daemon.stop();
  await page.locator('[data-link=reconnecting], [data-link=offline]').waitFor({ timeout: WAIT });
  await shot(page, 'reconnecting');
  await daemon.start();
  // Written before the console is back (it waits out its backoff): it arrives by resume.
  await customer(7401, 'Eve', 'While you were away');
  await customer(7402, 'Frank', 'New here after the restart');
  await page.locator('[data-link=connected]').waitFor({ timeout: 20_000 });
  await page.locator('.msg.in', { hasText: 'While you were away' }).waitFor({ timeout: WAIT });
  await row(page, 'Frank').waitFor({ timeout: WAIT });
});

test('admin pages work and pass the accessibility check; dark mode and a phone-sized screen', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  for (const [id, heading] of [['agents', 'Agents and tokens'], ['channels', 'Channels'], ['dead-letters', 'Dead letters'], ['labels', 'Labels'], ['canned', 'Canned replies'], ['contact-attributes', 'Contact attributes']]) {
    await page.goto(`${daemon.url}/#/admin/${id}`);
    await page.getByRole('heading', { name: heading }).waitFor({ timeout: WAIT });
    if (id === 'agents') await page.locator('tr', { hasText: 'Grace Hopper' }).waitFor({ timeout: WAIT });
    if (id === 'channels') await page.locator('td', { hasText: 'tg-support' }).waitFor({ timeout: WAIT });
    await checkAccessibility(page, `admin ${id}`);
    await shot(page, `admin-${id}`);
  }
  // An agent and a token made in the console.
  await page.goto(`${daemon.url}/#/admin/agents`);
  await page.getByLabel('Name').fill('Hedy Lamarr');
  await page.getByRole('button', { name: 'Create agent' }).click();
  const hedy = page.locator('tr', { hasText: 'Hedy Lamarr' });
  await hedy.waitFor({ timeout: WAIT });
  await hedy.getByRole('button', { name: 'New token' }).click();
  const token = await page.locator('input.token').inputValue();
  assert.match(token, /^\S{20,}$/);
  const me = await daemon.api('GET', '/api/v1/me', undefined, token);
  assert.equal(me.body.name, 'Hedy Lamarr');

  const dark = await agentPage(ADMIN_TOKEN, { colorScheme: 'dark' });
  await orShot(dark, 'dark-inbox', row(dark, 'Ada Lovelace').click({ timeout: WAIT }));
  await dark.locator('.msg.in').first().waitFor({ timeout: WAIT });
  await checkAccessibility(dark, 'conversation (dark)');
  await shot(dark, 'conversation-dark');

  const phone = await agentPage(ADMIN_TOKEN, { viewport: { width: 390, height: 800 } });
  await row(phone, 'Ada Lovelace').click();
  await phone.locator('.conv-head').waitFor({ timeout: WAIT });
  assert.equal(await phone.locator('.inbox').isVisible(), false, 'one pane at a time');
  await shot(phone, 'phone-conversation');
  // The contact panel is a pane of its own there, reached from the conversation's header.
  await phone.getByRole('link', { name: 'Contact details' }).click();
  const contactPane = phone.getByRole('complementary', { name: 'Contact' });
  await orShot(phone, 'phone-contact', contactPane.getByRole('heading', { name: 'Ada Lovelace' }).waitFor({ state: 'visible', timeout: WAIT }));
  assert.equal(await phone.locator('.conv-head').isVisible(), false, 'the contact instead of the conversation');
  await checkAccessibility(phone, 'the contact pane on a phone');
  await shot(phone, 'phone-contact');
  await phone.getByRole('link', { name: 'Back to the conversation' }).click();
  await phone.locator('.conv-head').waitFor({ state: 'visible', timeout: WAIT });
  assert.equal(await contactPane.isVisible(), false);
  await phone.getByRole('button', { name: 'Back to the inbox' }).click();
  await phone.locator('.inbox').waitFor({ state: 'visible', timeout: WAIT });

  // Signing out forgets the token.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Token', { exact: true }).waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await checkAccessibility(page, 'sign in');
  await shot(page, 'sign-in');
});

test('a history of 10,000 messages is virtualized: only what is near the viewport is in the page', async () => {
  const total = 10_000;
  const batch = 500;
  for (let i = 0; i < total; i += batch)
    await daemon.whatsappCustomerWritesMany({ wamidPrefix: `wamid.E2E-LONG-${i}`, from: '16315557801', name: 'Kim Long', texts: Array.from({ length: batch }, (_, j) => `line ${i + j + 1}`) });
  const conv = await conversationOf(16315557801);
  await until('every message stored', async () => {
    let n = 0;
    let before = '';
    for (;;) {
      const r = await daemon.api('GET', `/api/v1/conversations/${conv.id}/messages?limit=200${before}`);
      n += r.body.items.length;
      if (!r.body.next_cursor) return n === total;
      before = `&before=${r.body.next_cursor}`;
    }
  }, 30_000);
  const page = await agentPage(ADMIN_TOKEN);
  await row(page, 'Kim Long').click();
  await page.locator('.msg.in').first().waitFor({ timeout: WAIT });
  // Scroll to the top repeatedly: older pages load, and the page keeps only a window of them.
  const started = Date.now();
  const loaded = await until('the whole history loaded by scrolling up', async () => {
    await page.locator('.history').evaluate((el) => el.scrollTo(0, 0));
    await page.locator('.history').dispatchEvent('scroll');
    return (await page.locator('.older').count()) === 0 && (await page.locator('.msg', { hasText: /line 1$/ }).count()) > 0;
  }, 120_000);
  assert.ok(loaded);
  console.log(`${total} messages loaded by scrolling up in ${Date.now() - started} ms`);
  const slots = await page.locator('.history .slot').count();
  assert.ok(slots > 5 && slots < 80, `${slots} messages in the page for ${total} loaded`);
  await page.locator('.history').evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await page.locator('.msg.in', { hasText: `line ${total}` }).waitFor({ timeout: WAIT });
});

test('the sign-in refuses a wrong token', async () => {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(daemon.url + '/');
  await page.getByLabel('Token', { exact: true }).fill('not-a-valid-token-at-all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor({ timeout: WAIT });
});

// --- features of the inbox-state and media branches: run once the daemon serves them ---

test('a note stays in the team and never reaches the platform', async (t) => {
  if (!(await daemon.has('/api/v1/conversations/1/notes'))) return t.skip('the daemon has no notes endpoint yet (issue 14)');
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7501, 'Gina', 'Note test');
  await row(page, 'Gina').click();
  await page.getByRole('button', { name: 'Reply mode' }).click();
  const before = telegram.sent().length;
  await page.getByLabel('Private note').fill('Internal: VIP customer');
  await page.getByLabel('Private note').press('Enter');
  await page.locator('.msg.note', { hasText: 'Internal: VIP customer' }).waitFor({ timeout: WAIT });
  await sleep(500);
  assert.equal(telegram.sent().length, before);
  await shot(page, 'note');
});

test('reading a conversation clears its unread badge in a second tab', async (t) => {
  if (!(await daemon.has('/api/v1/conversations/counts'))) return t.skip('the daemon has no read state across tabs yet (issue 14: counts, conversation_read)');
  const one = await agentPage(ADMIN_TOKEN);
  const two = await agentPage(ADMIN_TOKEN);
  await customer(7601, 'Hank', 'Unread test');
  await row(two, 'Hank').locator('.badge').waitFor({ timeout: WAIT });
  await row(one, 'Hank').click();
  await until('badge cleared in the second tab', async () => (await row(two, 'Hank').locator('.badge').count()) === 0);
  // A reply sent in one tab shows in the other (each tab is its own session: only the sending
  // one is spared the echo), once, with its tick, and as the row's preview.
  await row(two, 'Hank').click();
  await two.locator('.msg.in', { hasText: 'Unread test' }).waitFor({ timeout: WAIT });
  const box = one.getByLabel('Reply', { exact: true });
  await box.fill('Answered from the first tab');
  await box.press('Enter');
  await one.locator('.msg.out', { hasText: 'Answered from the first tab' }).locator('.tick-sent').waitFor({ timeout: WAIT });
  const mirrored = two.locator('.msg.out', { hasText: 'Answered from the first tab' });
  await orShot(two, 'second-tab-reply', mirrored.locator('.tick-sent').waitFor({ timeout: WAIT }));
  assert.equal(await mirrored.count(), 1, 'once');
  assert.equal(await one.locator('.msg.out', { hasText: 'Answered from the first tab' }).count(), 1, 'and once in the sending tab');
  await until("the second tab's row preview", async () => (await row(two, 'Hank').textContent())?.includes('Answered from the first tab'));
});

test('/shortcode offers canned replies, rendered for the conversation', async (t) => {
  if (!(await daemon.has('/api/v1/canned-replies'))) return t.skip('the daemon has no canned replies yet (issue 14)');
  const made = await daemon.api('POST', '/api/v1/canned-replies', { shortcode: 'greet', text: 'Hello {{contact.name}}!', scope: 'shared' });
  assert.equal(made.status, 201);
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7901, 'Nora', 'Canned test');
  await row(page, 'Nora').click();
  const box = page.getByLabel('Reply', { exact: true });
  await box.fill('/gre');
  await page.getByRole('option', { name: /greet/ }).waitFor({ timeout: WAIT });
  await box.press('Enter');
  assert.equal(await box.inputValue(), 'Hello Nora!');
});

test('snooze, then a customer message reopens the conversation', async (t) => {
  if (!(await daemon.has('/api/v1/conversations/counts'))) return t.skip('the daemon has no pending/snoozed statuses yet (issue 14)');
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7951, 'Omar', 'Snooze test');
  await row(page, 'Omar').click();
  await page.getByLabel('Snooze for').selectOption({ label: 'in 1 hour' });
  await page.locator('.status-pill', { hasText: 'snoozed' }).waitFor({ timeout: WAIT });
  await customer(7951, 'Omar', 'I am back');
  await page.locator('.status-pill', { hasText: 'open' }).waitFor({ timeout: WAIT });
});

test('a customer who blocked the bot: the panel says so and a reply is refused without reaching Telegram', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7971, 'Pia', 'One question');
  await row(page, 'Pia').click();
  await page.locator('.msg.in', { hasText: 'One question' }).waitFor({ timeout: WAIT });  // open, history loaded
  await daemon.customerBlocks({ updateId: updateId++, chatId: 7971, firstName: 'Pia', blocked: true });
  const contact = page.getByRole('complementary', { name: 'Contact' });
  await contact.getByText('replies are refused').waitFor({ timeout: WAIT });
  await page.locator('.msg.system', { hasText: 'blocked the bot' }).waitFor({ timeout: WAIT });  // a notice, not a bubble
  assert.equal(await page.locator('.msg.in', { hasText: 'blocked the bot' }).count(), 0);
  const box = page.getByLabel('Reply', { exact: true });
  await box.fill('Are you still there?');
  await box.press('Enter');
  await page.locator('.toast', { hasText: 'blocked' }).waitFor({ timeout: WAIT });
  assert.equal(telegram.sent().filter((c) => c.body.text === 'Are you still there?').length, 0);
  await daemon.customerBlocks({ updateId: updateId++, chatId: 7971, firstName: 'Pia', blocked: false });
  await contact.getByText('replies are refused').waitFor({ state: 'detached', timeout: WAIT });
});

test('polls, dice and forwarded messages show what they say, not [poll]', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7981, 'Quinn', 'Two things');
  await row(page, 'Quinn').click();
  await page.locator('.msg.in', { hasText: 'Two things' }).waitFor({ timeout: WAIT });
  const from = { id: 7981, is_bot: false, first_name: 'Quinn' };
  const base = () => ({ message_id: messageId++, from, chat: { ...from, type: 'private' }, date: Math.floor(Date.now() / 1000) });
  await daemon.telegramUpdate({
    update_id: updateId++,
    message: { ...base(), poll: { id: '54360', question: 'Which delivery slot?', options: [{ text: 'Morning', voter_count: 0 }, { text: 'Evening', voter_count: 1 }], total_voter_count: 1, is_closed: false, is_anonymous: false, type: 'regular', allows_multiple_answers: false } },
  });
  await daemon.telegramUpdate({ update_id: updateId++, message: { ...base(), dice: { emoji: '🎲', value: 4 } } });
  await daemon.telegramUpdate({
    update_id: updateId++,
    message: { ...base(), forward_origin: { type: 'hidden_user', sender_user_name: 'Mary Somerville', date: 1732450000 }, text: 'same error here' },
  });
  const conv = await conversationOf(7981);
  const stored = await until('the three messages stored', async () => {
    const h = await daemon.api('GET', `/api/v1/conversations/${conv.id}/messages?limit=50`);
    return h.body.items.length >= 4 ? h.body.items : undefined;
  });
  const poll = page.locator('.msg.in', { hasText: 'Which delivery slot?' });
  // Stored first (above), so a miss here is the page's: say what it should have shown.
  await orShot(page, 'kinds', poll.waitFor({ timeout: WAIT })).catch((e) => {
    throw new Error(`${e.message}; stored: ${JSON.stringify(stored.map((m: any) => m.content))}`);
  });
  await poll.getByText('Evening (1)').waitFor({ timeout: WAIT });
  await page.locator('.msg.in', { hasText: 'rolled 4' }).waitFor({ timeout: WAIT });
  await page.locator('.msg.in .context', { hasText: 'Forwarded from Mary Somerville' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('.msg', { hasText: '[poll]' }).count(), 0);
});

test('a file upload is sent', async (t) => {
  if (!(await daemon.has('/api/v1/uploads'))) return t.skip('the daemon has no uploads endpoint yet (issue 16)');
  const page = await agentPage(ADMIN_TOKEN);
  await customer(7701, 'Ivy', 'Upload test');
  await row(page, 'Ivy').click();
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
  await page.getByLabel('Attach a file').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
  await until('a media send at Telegram', () => telegram.calls.find((c) => c.method === 'sendPhoto' || c.method === 'sendDocument'));
});

// A WAV file of `seconds` of a 440 Hz tone (16-bit mono PCM at 8 kHz): bytes chromium decodes.
function toneWav(seconds: number): Buffer {
  const rate = 8000;
  const samples = rate * seconds;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return wav;
}

test('an inbound photo shows, and an audio file and a voice note play, from the media endpoint', async () => {
  const page = await agentPage(ADMIN_TOKEN);
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
  telegram.files.set('PHOTO-E2E', { path: 'photos/file_1.png', bytes: png });
  telegram.files.set('AUDIO-E2E', { path: 'music/file_2.wav', bytes: toneWav(1) });
  const from = { id: 7911, is_bot: false, first_name: 'Fay' };
  const chat = { ...from, type: 'private' };
  const date = Math.floor(Date.now() / 1000);
  await daemon.telegramUpdate({ update_id: updateId++, message: { message_id: messageId++, from, chat, date,
    photo: [{ file_id: 'PHOTO-E2E', file_unique_id: 'u-photo', width: 1, height: 1, file_size: png.length }], caption: 'my receipt' } });
  await daemon.telegramUpdate({ update_id: updateId++, message: { message_id: messageId++, from, chat, date,
    audio: { file_id: 'AUDIO-E2E', file_unique_id: 'u-audio', duration: 1, mime_type: 'audio/wav', title: 'Tone', file_size: 16044 } } });
  // A voice note as Telegram's apps record them: Ogg Opus (1.5 s of a 440 Hz tone, made with
  // `opusenc --bitrate 12` from opus-tools; Telegram rounds the duration to whole seconds).
  const voice = readFileSync(join(env('SB_FIXTURES'), 'voice-note.ogg'));
  telegram.files.set('VOICE-E2E', { path: 'voice/file_3.oga', bytes: voice });
  await daemon.telegramUpdate({ update_id: updateId++, message: { message_id: messageId++, from, chat, date,
    voice: { file_id: 'VOICE-E2E', file_unique_id: 'u-voice', duration: 2, mime_type: 'audio/ogg', file_size: voice.length } } });
  await row(page, 'Fay').waitFor({ timeout: WAIT });
  await row(page, 'Fay').click();
  // The picture is the daemon's bytes (a blob of GET /api/v1/media/{id}), decoded by the browser.
  const img = page.locator('article.msg img');
  await orShot(page, 'media-photo', until('the photo decoded', () => img.evaluate((e: HTMLImageElement) => e.complete && e.naturalWidth === 1), WAIT));
  const audio = page.locator('article.msg audio[aria-label=audio]');
  await orShot(page, 'media-audio', audio.waitFor({ timeout: WAIT }));
  const duration = await until('the audio loaded', () => audio.evaluate((e: HTMLAudioElement) => (e.readyState >= 1 ? e.duration : 0)), WAIT);
  assert.ok(Math.abs(duration - 1) < 0.05, `a one-second tone, got ${duration} s`);
  await audio.evaluate((e: HTMLAudioElement) => { e.muted = true; return e.play(); });
  await until('the audio playing', () => audio.evaluate((e: HTMLAudioElement) => e.currentTime > 0), WAIT);
  // The voice note's length comes from decoding the Opus bytes, not from Telegram's rounded 2 s.
  const note = page.locator('article.msg audio[aria-label="voice note"]');
  await orShot(page, 'media-voice', note.waitFor({ timeout: WAIT }));
  const noteDuration = await until('the voice note loaded', () => note.evaluate((e: HTMLAudioElement) => (e.readyState >= 1 ? e.duration : 0)), WAIT);
  assert.ok(Math.abs(noteDuration - 1.5) < 0.05, `a 1.5-second voice note, got ${noteDuration} s`);
  await note.evaluate((e: HTMLAudioElement) => { e.muted = true; return e.play(); });
  await until('the voice note playing', () => note.evaluate((e: HTMLAudioElement) => e.currentTime > 0), WAIT);
  await shot(page, 'media');
  await checkAccessibility(page, 'a conversation with a photo and audio');
});

test("outside WhatsApp's 24-hour window the composer offers the channel's templates", async () => {
  const page = await agentPage(ADMIN_TOKEN);
  // A customer who last wrote 25 hours ago: only a template gets through.
  await daemon.whatsappCustomerWrites({ wamid: 'wamid.E2E-OLD', from: '16315551234', name: 'Kerry Fisher', text: 'Where is my parcel?', ageMs: 25 * 3_600_000 });
  await orShot(page, 'window-row', row(page, 'Kerry Fisher').waitFor({ timeout: WAIT }));
  await row(page, 'Kerry Fisher').click();
  const form = page.getByRole('form', { name: 'Send a template' });
  await orShot(page, 'window-form', form.waitFor({ timeout: WAIT }));
  assert.equal(await page.getByLabel('Reply', { exact: true }).count(), 0, 'no free text outside the window');
  const send = page.getByRole('button', { name: 'Send template' });
  assert.equal(await send.isDisabled(), true, 'every parameter is needed');
  await page.getByLabel('Parameter {{1}}').fill('Kerry');
  await page.getByLabel('Parameter {{2}}').fill('B-1042');
  await page.locator('.template-preview', { hasText: 'Hello Kerry, your order B-1042 is on its way.' }).waitFor({ timeout: WAIT });
  await shot(page, 'window-template');
  await checkAccessibility(page, 'the template form');
  await send.click();
  const sent = await until('the template at WhatsApp', () => graph.sends.find((b) => b.type === 'template'));
  assert.equal(sent.to, '16315551234');
  assert.equal(sent.template.name, 'order_update');
  assert.equal(sent.template.language.code, 'en_US');
  assert.deepEqual(sent.template.components, [{ type: 'body', parameters: [{ type: 'text', text: 'Kerry' }, { type: 'text', text: 'B-1042' }] }]);
  assert.equal(graph.sends.filter((b) => b.type === 'text').length, 0, 'nothing but the template was sent');

  // A customer who writes now: the reply box is there; WhatsApp's refusal (131047, the window
  // closed by its clock) turns the composer to templates instead of leaving the agent stuck.
  await daemon.whatsappCustomerWrites({ wamid: 'wamid.E2E-NEW', from: '16315559876', name: 'Lee Park', text: 'Hi again' });
  await row(page, 'Lee Park').waitFor({ timeout: WAIT });
  await row(page, 'Lee Park').click();
  const reply = page.getByLabel('Reply', { exact: true });
  await orShot(page, 'window-open', reply.waitFor({ timeout: WAIT }));
  graph.outsideWindow.add('Are you there?');
  await reply.fill('Are you there?');
  await reply.press('Enter');
  await orShot(page, 'window-refused', form.waitFor({ timeout: WAIT }));
  assert.equal(graph.sends.filter((b) => b.type === 'text').length, 0, 'the refused text never reached the customer');
});

test("a colleague's reply appears live in the open conversation, its ticks following WhatsApp's statuses", async () => {
  const page = await agentPage(ADMIN_TOKEN);
  await daemon.whatsappCustomerWrites({ wamid: 'wamid.E2E-TICKS', from: '16315550077', name: 'Mo Tick', text: 'Any news?' });
  await row(page, 'Mo Tick').waitFor({ timeout: WAIT });
  await row(page, 'Mo Tick').click();
  await orShot(page, 'ticks-open', page.getByLabel('Reply', { exact: true }).waitFor({ timeout: WAIT }));
  const c = await until('the WhatsApp conversation', async () =>
    (await daemon.api('GET', '/api/v1/conversations?limit=200')).body.items.find((x: any) => x.platform_id === '16315550077'));
  const rita = await makeAgent('Rita');
  const sent = await daemon.api('POST', `/api/v1/conversations/${c.id}/messages`, { content: { type: 'text', text: 'Rita here: it ships today' } }, rita.token);
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  // The admin's tab did not send it: it learns of it from the message_sent frame.
  const bubble = page.locator('article.msg', { hasText: 'Rita here: it ships today' });
  await orShot(page, 'ticks-live', bubble.locator('[aria-label=sent]').waitFor({ timeout: WAIT }));
  await daemon.whatsappStatus(sent.body.platform_id, 'delivered', '16315550077');
  await orShot(page, 'ticks-delivered', bubble.locator('[aria-label=delivered]').waitFor({ timeout: WAIT }));
  await daemon.whatsappStatus(sent.body.platform_id, 'read', '16315550077');
  await orShot(page, 'ticks-read', bubble.locator('[aria-label=read]').waitFor({ timeout: WAIT }));
  await shot(page, 'ticks');
});

test('the inbox filters by channel, label and priority, and its search box asks the daemon', async () => {
  assert.equal((await daemon.api('POST', '/api/v1/labels', { name: 'vip', color: '#aa3300' })).status, 201);
  await customer(8101, 'Quill', 'Where is my parcel');
  await customer(8102, 'Rhea', 'I want a refund for my kumquat order');
  await daemon.whatsappCustomerWrites({ wamid: 'wamid.E2E-FILTER', from: '16315550101', name: 'Sam Filter', text: 'hello from WhatsApp' });
  const quill = await conversationOf(8101);
  const rhea = await conversationOf(8102);
  assert.equal((await daemon.api('POST', `/api/v1/conversations/${quill.id}/labels`, { name: 'vip' })).status, 200);
  assert.equal((await daemon.api('PATCH', `/api/v1/conversations/${rhea.id}`, { priority: 'high' })).status, 200);
  const page = await agentPage(ADMIN_TOKEN);
  for (const name of ['Quill', 'Rhea', 'Sam Filter']) await row(page, name).waitFor({ timeout: WAIT });
  await checkAccessibility(page, 'inbox with conversations and filters');
  const shown = async (name: string) => (await row(page, name).count()) > 0;

  await orShot(page, 'filter-channel', (async () => {
    await page.getByRole('combobox', { name: /^Channel/ }).selectOption('wa-support');
    await until('only WhatsApp rows', async () => !(await shown('Quill')) && !(await shown('Rhea')) && (await shown('Sam Filter')));
    await page.getByRole('combobox', { name: /^Channel/ }).selectOption('');
  })());
  await orShot(page, 'filter-label', (async () => {
    await page.getByRole('combobox', { name: /^Label/ }).selectOption('vip');
    await until('only the labelled row', async () => (await shown('Quill')) && !(await shown('Rhea')) && !(await shown('Sam Filter')));
    await page.getByRole('combobox', { name: /^Label/ }).selectOption('');
  })());
  await orShot(page, 'filter-priority', (async () => {
    await page.getByRole('combobox', { name: /^Priority/ }).selectOption('high');
    await until('only the high-priority row', async () => (await shown('Rhea')) && !(await shown('Quill')));
    await page.getByRole('combobox', { name: /^Priority/ }).selectOption('');
  })());

  // The search box: the daemon matches the message text.
  const search = page.getByLabel('Search conversations');
  await orShot(page, 'search', (async () => {
    await search.fill('kumquat');
    await until('only the matching row', async () => (await shown('Rhea')) && !(await shown('Quill')) && !(await shown('Sam Filter')));
    assert.equal(await page.locator('.tabs .count').count(), 0, 'no tab counts that ignore the search');
    await shot(page, 'inbox-search');
    // A live message elsewhere is not added to a search's list; one to a listed row moves it.
    await customer(8101, 'Quill', 'Anything new?');
    await customer(8102, 'Rhea', 'Still waiting for the kumquats');
    await until('the listed row updated live', async () => (await row(page, 'Rhea').textContent())?.includes('Still waiting for the kumquats'));
    assert.equal(await shown('Quill'), false);
    await search.fill('');
    await until('every row back', async () => (await shown('Quill')) && (await shown('Sam Filter')));
    await page.locator('.tabs .count').first().waitFor({ timeout: WAIT });
  })());
  await search.fill('nothing-matches-this');
  await page.locator('.empty', { hasText: 'No conversation matches' }).waitFor({ timeout: WAIT });
});

test('the contact panel: attributes an admin defines, a profile edited, identities, other conversations, merge and unmerge', async () => {
  const admin = await agentPage(ADMIN_TOKEN);
  admin.on('dialog', (d) => void d.accept());

  // The admin defines the attributes in the console; a key that exists is refused.
  await admin.goto(`${daemon.url}/#/admin/contact-attributes`);
  await admin.getByRole('heading', { name: 'Contact attributes' }).waitFor({ timeout: WAIT });
  const define = async (key: string, type: string, label: string) => {
    await admin.getByLabel('Key').fill(key);
    await admin.getByRole('combobox', { name: 'Type' }).selectOption(type);
    await admin.getByLabel('Label').fill(label);
    await admin.getByRole('button', { name: 'Add attribute' }).click();
  };
  for (const [key, type, label] of [['plan', 'string', 'Plan'], ['seats', 'number', 'Seats'], ['renewal', 'date', 'Renewal'], ['trial', 'boolean', 'On trial']]) {
    await define(key, type, label);
    await orShot(admin, `attribute-${key}`, admin.locator(`tr[data-attribute="${key}"]`).waitFor({ timeout: WAIT }));
  }
  await define('plan', 'string', 'Again');
  await orShot(admin, 'attribute-409', admin.locator('.toast', { hasText: /exists/i }).waitFor({ timeout: WAIT }));
  await admin.getByRole('button', { name: 'Delete trial' }).click();
  await admin.locator('tr[data-attribute="trial"]').waitFor({ state: 'detached', timeout: WAIT });
  const defined = await daemon.api('GET', '/api/v1/contact-attributes');
  assert.deepEqual(defined.body.items.map((a: any) => [a.key, a.type, a.label]), [['plan', 'string', 'Plan'], ['renewal', 'date', 'Renewal'], ['seats', 'number', 'Seats']], 'ordered by key');
  await checkAccessibility(admin, 'admin contact attributes');
  await shot(admin, 'admin-contact-attributes');

  // One person on two channels: on Telegram, who shares their own number, and on WhatsApp.
  await customer(8201, 'Bea', 'Hello, my invoice is wrong', 'Quinn');
  await daemon.telegramUpdate({
    update_id: updateId++,
    message: {
      message_id: messageId++, from: { id: 8201, is_bot: false, first_name: 'Bea', last_name: 'Quinn' }, chat: { id: 8201, type: 'private', first_name: 'Bea' },
      date: Math.floor(Date.now() / 1000), contact: { phone_number: '+49 151 2345 6701', first_name: 'Bea', user_id: 8201 },
    },
  });
  await daemon.whatsappCustomerWrites({ wamid: 'wamid.E2E-CONTACT', from: '4915123456701', name: 'B. Quinn WA', text: 'Writing from WhatsApp now' });
  const tg = await conversationOf(8201);
  const wa = await conversationOf(4915123456701);
  assert.notEqual(tg.contact.id, wa.contact.id, 'two contacts until merged');

  await admin.goto(`${daemon.url}/#/c/${tg.id}`);
  const panel = admin.getByRole('complementary', { name: 'Contact' });
  await orShot(admin, 'contact-panel', panel.getByRole('heading', { name: 'Bea Quinn' }).waitFor({ timeout: WAIT }));
  await panel.getByRole('region', { name: 'Identities' }).getByText('tg-support').waitFor({ timeout: WAIT });
  const suggestion = panel.getByRole('button', { name: 'Merge B. Quinn WA into this contact' });
  await orShot(admin, 'contact-suggestion', suggestion.waitFor({ timeout: WAIT }));
  assert.match((await panel.locator(`li[data-contact="${wa.contact.id}"]`).textContent()) ?? '', /same phone 4915123456701/);

  // A second tab learns of the change from the contact_updated frame.
  const other = await agentPage(ADMIN_TOKEN);
  await row(other, 'Bea Quinn').waitFor({ timeout: WAIT });

  // The profile: a value the daemon refuses shows its reason and keeps the draft.
  await panel.getByRole('button', { name: 'Edit contact' }).click();
  const form = panel.getByRole('form', { name: 'Edit contact' });
  await form.getByLabel('Name').fill('Bea Ortega');
  await form.getByLabel('E-mail').fill('not-an-email');
  await form.getByRole('button', { name: 'Save' }).click();
  await orShot(admin, 'contact-400', form.getByRole('alert').filter({ hasText: 'e-mail address' }).waitFor({ timeout: WAIT }));
  await form.getByLabel('E-mail').fill('bea@example.com');
  await form.getByLabel('Company').fill('Acme GmbH');
  await form.getByLabel('Notes').fill('Prefers WhatsApp.\nCalls after 5 pm.');
  await form.getByLabel('Plan').fill('gold');
  await form.getByLabel('Seats').fill('twelve');
  await form.getByRole('button', { name: 'Save' }).click();
  await orShot(admin, 'contact-400-number', form.getByRole('alert').filter({ hasText: 'is a number' }).waitFor({ timeout: WAIT }));
  await form.getByLabel('Seats').fill('12');
  await form.getByLabel('Renewal').fill('2027-03-01');
  await checkAccessibility(admin, 'the contact form');
  await shot(admin, 'contact-edit');
  await form.getByRole('button', { name: 'Save' }).click();
  await orShot(admin, 'contact-saved', panel.getByRole('button', { name: 'Edit contact' }).waitFor({ timeout: WAIT }));
  const saved = await daemon.api('GET', `/api/v1/contacts/${tg.contact.id}`);
  assert.equal(saved.body.name, 'Bea Ortega');
  assert.equal(saved.body.email, 'bea@example.com');
  assert.equal(saved.body.company, 'Acme GmbH');
  assert.equal(saved.body.notes, 'Prefers WhatsApp.\nCalls after 5 pm.');
  assert.deepEqual(saved.body.attributes, { plan: 'gold', seats: 12, renewal: '2027-03-01' });
  for (const text of ['bea@example.com', 'Acme GmbH', 'gold', '12', '2027-03-01']) await panel.getByText(text, { exact: true }).waitFor({ timeout: WAIT });
  await row(admin, 'Bea Ortega').waitFor({ timeout: WAIT });
  await shot(admin, 'contact-profile');
  await orShot(other, 'contact-frame', row(other, 'Bea Ortega').waitFor({ timeout: WAIT }));

  // Merged: both identities and the WhatsApp conversation are this contact's.
  await suggestion.click();
  const identities = panel.getByRole('region', { name: 'Identities' });
  await orShot(admin, 'contact-merged', identities.getByText('wa-support').waitFor({ timeout: WAIT }));
  assert.equal(await identities.locator('li').count(), 2);
  assert.equal((await daemon.api('GET', `/api/v1/contacts/${wa.contact.id}`)).body.id, tg.contact.id, 'the merged one answers as the kept one');
  await row(admin, 'Writing from WhatsApp now').filter({ hasText: 'Bea Ortega' }).waitFor({ timeout: WAIT });
  await orShot(other, 'contact-merged-frame', row(other, 'Writing from WhatsApp now').filter({ hasText: 'Bea Ortega' }).waitFor({ timeout: WAIT }));
  await checkAccessibility(admin, 'the contact panel, merged');
  await shot(admin, 'contact-merged');

  // Its other conversation opens from the panel, under the merged contact.
  await panel.getByRole('region', { name: 'Other conversations' }).getByRole('link', { name: /wa-support/ }).click();
  await orShot(admin, 'contact-other', admin.waitForURL(`**/#/c/${wa.id}`, { timeout: WAIT }));
  await admin.getByRole('region', { name: 'Conversation with Bea Ortega' }).waitFor({ timeout: WAIT });

  // Unmerged: the WhatsApp conversation's contact is its own again, and so is its row.
  await panel.getByRole('button', { name: 'Unmerge B. Quinn WA' }).click();
  await orShot(admin, 'contact-unmerged', panel.getByRole('heading', { name: 'B. Quinn WA' }).waitFor({ timeout: WAIT }));
  await panel.getByRole('region', { name: 'Identities' }).getByText('wa-support').waitFor({ timeout: WAIT });
  assert.equal(await panel.getByRole('region', { name: 'Identities' }).locator('li').count(), 1);
  await row(admin, 'B. Quinn WA').waitFor({ timeout: WAIT });
  await orShot(other, 'contact-unmerged-frame', row(other, 'B. Quinn WA').waitFor({ timeout: WAIT }));
  const back = await daemon.api('GET', `/api/v1/contacts/${wa.contact.id}`);
  assert.equal(back.body.id, wa.contact.id);
  assert.equal((await daemon.api('GET', `/api/v1/contacts/${tg.contact.id}`)).body.identities.length, 1);

  // An attribute cleared is gone from the contact.
  await admin.goto(`${daemon.url}/#/c/${tg.id}`);
  await panel.getByRole('heading', { name: 'Bea Ortega' }).waitFor({ timeout: WAIT });
  await panel.getByRole('button', { name: 'Edit contact' }).click();
  await form.getByLabel('Plan').fill('');
  await form.getByRole('button', { name: 'Save' }).click();
  await panel.getByRole('button', { name: 'Edit contact' }).waitFor({ timeout: WAIT });
  assert.deepEqual((await daemon.api('GET', `/api/v1/contacts/${tg.contact.id}`)).body.attributes, { seats: 12, renewal: '2027-03-01' });

  // An agent sees the profile of a conversation of theirs, and no merging.
  const uma = await makeAgent('Uma Contact');
  assert.equal((await daemon.api('POST', `/api/v1/conversations/${tg.id}/assignment`, { agent_id: uma.id })).status, 200);
  const agent = await agentPage(uma.token);
  await agent.goto(`${daemon.url}/#/c/${tg.id}`);
  const theirs = agent.getByRole('complementary', { name: 'Contact' });
  await orShot(agent, 'contact-agent', theirs.getByText('Acme GmbH').waitFor({ timeout: WAIT }));
  assert.equal(await theirs.getByRole('region', { name: 'Merge contacts' }).count(), 0);
});

test('in a background tab, desktop notifications and a chime for own and unassigned conversations only', async () => {
  // What the page shows and plays is recorded: the notifications it makes, the tones it starts,
  // and a visibility the test switches (a headless tab is always "visible").
  const recorder = () => {
    const w = window as any;
    w.__notes = [];
    w.__tones = 0;
    w.__hidden = false;
    const Real = w.Notification;
    class Recorded extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        w.__notes.push({ title, body: options?.body });
      }
    }
    w.Notification = Recorded;
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (this: OscillatorNode, ...args: any[]) {
      w.__tones++;
      return (start as any).apply(this, args);
    };
    Object.defineProperty(document, 'visibilityState', { get: () => (w.__hidden ? 'hidden' : 'visible') });
  };
  const page = await agentPage(ADMIN_TOKEN, { permissions: ['notifications'], init: recorder });
  const tones = () => page.evaluate(() => (window as any).__tones as number);
  const notes = () => page.evaluate(() => (window as any).__notes as { title: string; body: string }[]);
  await page.getByRole('checkbox', { name: 'Notifications' }).check();
  await page.getByRole('checkbox', { name: 'Sound' }).check();
  assert.equal(await tones(), 2, 'turning the sound on chimes once (two tones) as a preview');

  await customer(8301, 'Vi Visible', 'seen while looking');
  await row(page, 'Vi Visible').waitFor({ timeout: WAIT });
  assert.equal((await notes()).length, 0, 'nothing while the tab is in front');
  assert.equal(await tones(), 2);

  await page.evaluate(() => { (window as any).__hidden = true; document.dispatchEvent(new Event('visibilitychange')); });
  await customer(8302, 'Nia Notify', 'Is anyone there?');
  await orShot(page, 'notify-unassigned', until('a notification for an unassigned conversation', async () => (await notes()).find((n) => n.title === 'Nia Notify')));
  assert.equal((await notes()).find((n) => n.title === 'Nia Notify')?.body, 'Is anyone there?');
  assert.equal(await tones(), 4, 'and a chime');

  // Assigned to Vic: Vic's background tab is told; the admin's hears of it (rows update) but is not.
  const nia = await conversationOf(8302);
  const vic = await makeAgent('Vic Colleague');
  const vics = await agentPage(vic.token, { permissions: ['notifications'], init: recorder });
  await vics.getByRole('checkbox', { name: 'Notifications' }).check();
  await vics.evaluate(() => { (window as any).__hidden = true; document.dispatchEvent(new Event('visibilitychange')); });
  assert.equal((await daemon.api('POST', `/api/v1/conversations/${nia.id}/assignment`, { agent_id: vic.id })).status, 200);
  await row(vics, 'Nia Notify').waitFor({ timeout: WAIT });
  await customer(8302, 'Nia Notify', 'Hello Vic');
  await orShot(vics, 'notify-own', until('a notification in my own conversation', async () =>
    (await vics.evaluate(() => (window as any).__notes as { body: string }[])).some((n) => n.body === 'Hello Vic')));
  await until("the colleague's row updated", async () => (await row(page, 'Nia Notify').textContent())?.includes('Hello Vic'));
  await customer(8303, 'Ola Later', 'one more, unassigned');
  await until('the next unassigned one', async () => (await notes()).some((n) => n.title === 'Ola Later'));
  assert.deepEqual((await notes()).map((n) => n.body), ['Is anyone there?', 'one more, unassigned'], "nothing for the colleague's conversation");
  assert.equal(await tones(), 6);
});

test('an edit, a quoted reply and a reaction show live in the open conversation, and again after a reload', async () => {
  const from = { id: 8401, is_bot: false, first_name: 'Eddie', last_name: 'Edit' };
  const chat = { id: 8401, type: 'private', first_name: 'Eddie', last_name: 'Edit' };
  const date = Math.floor(Date.now() / 1000);
  const first = messageId++;
  await daemon.telegramUpdate({ update_id: updateId++, message: { message_id: first, from, chat, date, text: 'I ordered 3 lamps' } });
  const page = await agentPage(ADMIN_TOKEN);
  await row(page, 'Eddie Edit').click({ timeout: WAIT });
  const original = page.locator('article.msg.in', { hasText: 'lamps' }).first();
  await orShot(page, 'edit-open', original.waitFor({ timeout: WAIT }));

  await daemon.telegramUpdate({ update_id: updateId++, edited_message: { message_id: first, from, chat, date, edit_date: date + 5, text: 'I ordered 4 lamps' } });
  await orShot(page, 'edit-live', page.locator('article.msg.in', { hasText: 'I ordered 4 lamps' }).locator('.edited').waitFor({ timeout: WAIT }));
  assert.equal(await page.locator('article.msg', { hasText: 'I ordered 3 lamps' }).count(), 0, 'the edit replaces the text');

  await daemon.telegramUpdate({ update_id: updateId++, message: { message_id: messageId++, from, chat, date: date + 10, text: 'Did you see this?',
    reply_to_message: { message_id: first, from, chat, date, text: 'I ordered 4 lamps' } } });
  const reply = page.locator('article.msg.in', { hasText: 'Did you see this?' });
  await orShot(page, 'reply-live', reply.locator('blockquote.quote', { hasText: 'I ordered 4 lamps' }).waitFor({ timeout: WAIT }));

  await daemon.telegramUpdate({ update_id: updateId++, message_reaction: { chat, message_id: first, user: from, date: date + 15,
    old_reaction: [], new_reaction: [{ type: 'emoji', emoji: '👍' }] } });
  const edited = page.locator('article.msg.in', { hasText: 'I ordered 4 lamps' }).filter({ hasNot: page.locator('blockquote') });
  await orShot(page, 'reaction-live', edited.locator('.reaction', { hasText: '👍' }).waitFor({ timeout: WAIT }));
  await shot(page, 'edit-reply-reaction');

  // The history as the REST API gives it shows the same.
  await page.reload();
  await orShot(page, 'edit-reloaded', edited.locator('.reaction', { hasText: '👍' }).waitFor({ timeout: WAIT }));
  await edited.locator('.edited').waitFor({ timeout: WAIT });
  await reply.locator('blockquote.quote', { hasText: 'I ordered 4 lamps' }).waitFor({ timeout: WAIT });
});

test('chromium is where the tests expect it', () => {
  assert.ok(existsSync(CHROMIUM), CHROMIUM);
});
