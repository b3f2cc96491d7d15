// Unit tests of the console's state logic (node:test): frames merged into the lists, unread
// counters, the open conversation's messages, resume bookkeeping and backoff.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addPage, applyFrame, applyMessageFrame, backoffMs, belongs, markReadLocally, mergeMessages, newInbox, pageWithFrames, previewOf,
  ResumePoint, fillTemplate, templateContent, totalUnread, windowClosed,
} from '../src/state';
import { safeHref, splitLinks } from '../src/text';
import type { Conversation, Message } from '../src/types';

const ME = '3';

function conv(id: string, at: string, extra: Partial<Conversation> = {}): Conversation {
  return { id, channel_id: 'tg', status: 'open', assignee_id: null, last_activity_at: at, ...extra };
}

function msg(id: string, conversation: string, extra: Partial<Message> = {}): Message {
  return {
    id, conversation_id: conversation, direction: 'in', content: { type: 'text', text: `text ${id}` }, status: 'received',
    created_at: '2026-12-02T10:00:00.000Z', ...extra,
  };
}

function frame(type: string, data: unknown, seq?: number) {
  return { type, seq, at: '2026-12-02T10:00:00.000Z', data };
}

test('a new message moves its conversation to the top and counts as unread', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  s = addPage(s, [conv('2', '2026-12-02T09:00:00Z', { unread_count: 0 }), conv('1', '2026-12-02T08:00:00Z', { unread_count: 0 })], true);
  const { state, effects } = applyFrame(s, frame('new_message', { conversation: conv('1', '2026-12-02T10:00:00Z'), message: msg('9', '1') }, 5));
  assert.deepEqual(state.items.map((c) => c.id), ['1', '2']);
  assert.equal(state.items[0].unread_count, 1);
  assert.equal(state.items[0].last_message?.preview, 'text 9');
  assert.ok(effects.notify);
});

test('the same message twice (replay after the REST page) counts once', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  s = addPage(s, [conv('1', '2026-12-02T08:00:00Z', { unread_count: 0 })], true);
  const f = frame('new_message', { conversation: conv('1', '2026-12-02T10:00:00Z'), message: msg('9', '1') }, 5);
  s = applyFrame(s, f).state;
  const again = applyFrame(s, f);
  assert.equal(again.state.items[0].unread_count, 1);
  assert.equal(again.effects.notify, undefined);
  // A REST page whose last message is newer already counts it.
  let t = newInbox(ME, { tab: 'all', status: 'open' });
  t = addPage(t, [conv('1', '2026-12-02T10:00:00Z', { unread_count: 1, last_message: { id: '9', direction: 'in', preview: 'x', created_at: '' } })], true);
  assert.equal(applyFrame(t, f).state.items[0].unread_count, 1);
});

test('frames keep the agent\'s own unread count (they omit it)', () => {
  let s = newInbox(ME, { tab: 'all', status: '' });
  s = addPage(s, [conv('1', '2026-12-02T08:00:00Z', { unread_count: 4 })], true);
  s = applyFrame(s, frame('conversation_status', { conversation: conv('1', '2026-12-02T08:00:00Z', { status: 'resolved' }), changed_by: '3' }, 6)).state;
  assert.equal(s.items[0].unread_count, 4);
  assert.equal(s.items[0].status, 'resolved');
});

test('an open, visible conversation does not count its new messages as unread', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  s = addPage(s, [conv('1', '2026-12-02T08:00:00Z', { unread_count: 0 })], true);
  s = { ...s, open: '1', focused: true };
  s = applyFrame(s, frame('new_message', { conversation: conv('1', '2026-12-02T10:00:00Z'), message: msg('9', '1') }, 5)).state;
  assert.equal(s.items[0].unread_count, 0);
});

test('outbound messages and notes do not count as unread; a note keeps the preview', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  s = addPage(s, [conv('1', '2026-12-02T08:00:00Z', { unread_count: 0 })], true);
  s = applyFrame(s, frame('message_sent', { conversation: conv('1', '2026-12-02T10:00:00Z'), message: msg('9', '1', { direction: 'out' }) }, 5)).state;
  assert.equal(s.items[0].unread_count, 0);
  assert.equal(s.items[0].last_message?.id, '9');
  s = applyFrame(s, frame('note_added', { conversation: conv('1', '2026-12-02T10:01:00Z'), message: msg('10', '1', { kind: 'note', direction: 'out' }) }, 6)).state;
  assert.equal(s.items[0].last_message?.id, '9');
  assert.equal(s.items[0].unread_count, 0);
});

test('a status change takes a conversation out of a list that filters it away', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  s = addPage(s, [conv('1', '2026-12-02T08:00:00Z')], true);
  s = applyFrame(s, frame('conversation_status', { conversation: conv('1', '2026-12-02T08:00:00Z', { status: 'resolved' }) }, 7)).state;
  assert.equal(s.items.length, 0);
  assert.equal(s.known.get('1')?.status, 'resolved');
});

test('assignment moves a conversation between mine and unassigned', () => {
  let mine = newInbox(ME, { tab: 'mine', status: 'open' });
  const unassigned = conv('1', '2026-12-02T08:00:00Z');
  mine.known.set('1', unassigned);
  const r = applyFrame(mine, frame('conversation_assigned', { conversation_id: '1', agent_id: ME, previous_agent_id: null, assigned_by: ME }, 8), () => 'Grace');
  assert.deepEqual(r.state.items.map((c) => c.id), ['1']);
  assert.equal(r.state.items[0].assignee?.name, 'Grace');
  mine = r.state;
  const back = applyFrame(mine, frame('conversation_assigned', { conversation_id: '1', agent_id: null, previous_agent_id: ME, assigned_by: ME }, 9));
  assert.equal(back.state.items.length, 0);
  // Never seen and now mine: fetch it.
  const fresh = applyFrame(newInbox(ME, { tab: 'mine', status: 'open' }), frame('conversation_assigned', { conversation_id: '5', agent_id: ME }, 10));
  assert.equal(fresh.effects.fetchConversation, '5');
  // Assigned to someone else while I look at "unassigned": nothing to fetch.
  const other = applyFrame(newInbox(ME, { tab: 'unassigned', status: 'open' }), frame('conversation_assigned', { conversation_id: '6', agent_id: '4' }, 11));
  assert.equal(other.effects.fetchConversation, undefined);
});

test('conversation_read from another tab sets the counter; unread total counts mine and unassigned only', () => {
  let s = newInbox(ME, { tab: 'all', status: '' });
  s = addPage(s, [conv('1', 'b', { unread_count: 2 }), conv('2', 'a', { unread_count: 5, assignee_id: '4' }), conv('3', 'c', { unread_count: 1, assignee_id: ME })], true);
  assert.equal(totalUnread(s), 3);
  s = applyFrame(s, frame('conversation_read', { conversation_id: '1', agent_id: ME, last_read_message_id: '7', unread_count: 0 })).state;
  assert.equal(s.known.get('1')?.unread_count, 0);
  assert.equal(totalUnread(s), 1);
  // Another agent's read position is not mine.
  s = applyFrame(s, frame('conversation_read', { conversation_id: '3', agent_id: '4', unread_count: 0 })).state;
  assert.equal(s.known.get('3')?.unread_count, 1);
  s = markReadLocally(s, '3');
  assert.equal(totalUnread(s), 0);
});

test('a list page that was under way while a frame arrived does not undo the frame', () => {
  let s = newInbox(ME, { tab: 'unassigned', status: 'open' });
  // The request went out; then a customer wrote in a new conversation and in an old one.
  s = applyFrame(s, frame('new_message', { conversation: conv('9', '2026-12-02T10:00:00Z'), message: msg('50', '9') }, 20)).state;
  s = applyFrame(s, frame('new_message', { conversation: conv('1', '2026-12-02T10:01:00Z'), message: msg('51', '1') }, 21)).state;
  // The page answers with what was true before both.
  const page = [conv('2', '2026-12-02T09:00:00Z'), conv('1', '2026-12-02T08:00:00Z', { unread_count: 0 })];
  s = addPage(s, page, true, new Set(['9', '1']));
  assert.deepEqual(s.items.map((c) => c.id), ['1', '9', '2']);
  assert.equal(s.known.get('1')?.unread_count, 1);
  assert.equal(s.known.get('1')?.last_activity_at, '2026-12-02T10:01:00Z');
});

test('belongs() applies tab and status filters', () => {
  assert.ok(belongs(conv('1', 'a'), { tab: 'unassigned', status: 'open' }, ME));
  assert.ok(!belongs(conv('1', 'a'), { tab: 'mine', status: 'open' }, ME));
  assert.ok(belongs(conv('1', 'a', { assignee: { id: ME, name: 'me' } }), { tab: 'mine', status: 'open,pending' }, ME));
  assert.ok(!belongs(conv('1', 'a', { status: 'snoozed' }), { tab: 'all', status: 'open,pending' }, ME));
  assert.ok(belongs(conv('1', 'a', { status: 'snoozed' }), { tab: 'all', status: '' }, ME));
});

test('belongs() applies the channel, label and priority filters', () => {
  const c = conv('1', 'a', { channel_id: 'wa', labels: ['billing', 'vip'], priority: 'high' });
  assert.ok(belongs(c, { tab: 'all', status: 'open', channel: 'wa', label: 'vip', priority: 'high' }, ME));
  assert.ok(!belongs(c, { tab: 'all', status: 'open', channel: 'tg' }, ME));
  assert.ok(!belongs(c, { tab: 'all', status: 'open', label: 'refund' }, ME));
  assert.ok(!belongs(c, { tab: 'all', status: 'open', priority: 'urgent' }, ME));
  // No priority is "none"; no labels match no label filter.
  assert.ok(belongs(conv('2', 'a'), { tab: 'all', status: 'open', priority: 'none' }, ME));
  assert.ok(!belongs(conv('2', 'a'), { tab: 'all', status: 'open', label: 'vip' }, ME));
});

test('with a search, frames move and drop listed conversations but add none', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open', q: 'refund' });
  s = addPage(s, [conv('2', '2026-12-02T09:00:00Z'), conv('1', '2026-12-02T08:00:00Z')], true);
  // A listed conversation with a new message moves to the top.
  s = applyFrame(s, frame('new_message', { conversation: conv('1', '2026-12-02T10:00:00Z'), message: msg('9', '1') }, 5)).state;
  assert.deepEqual(s.items.map((c) => c.id), ['1', '2']);
  // One the daemon did not match is not added: only the daemon knows whether it matches.
  s = applyFrame(s, frame('new_message', { conversation: conv('3', '2026-12-02T11:00:00Z'), message: msg('10', '3') }, 6)).state;
  assert.deepEqual(s.items.map((c) => c.id), ['1', '2']);
  // A listed one that leaves the status filter goes.
  s = applyFrame(s, frame('conversation_status', { conversation: conv('2', '2026-12-02T09:00:00Z', { status: 'resolved' }), changed_by: '3' }, 7)).state;
  assert.deepEqual(s.items.map((c) => c.id), ['1']);
});

test('frames that arrive while a conversation loads are replayed on its first page', () => {
  const pending = msg('9', '1', { content: { type: 'audio', media: { id: '3', state: 'pending' } } });
  const ready = msg('9', '1', { content: { type: 'audio', media: { id: '3', state: 'ready' } } });
  // The page was read before the download ended; its frame came meanwhile (message not on screen).
  const frames = [frame('new_message', { message: pending }, 1), frame('message_updated', { message: ready }, 2), frame('new_message', { message: msg('10', '2') }, 3)];
  const list = pageWithFrames([pending], '1', frames);
  assert.deepEqual(list.map((m) => [m.id, m.content.media?.state]), [['9', 'ready']]);
  // By itself, an update of a message not on screen is dropped: why the replay is needed.
  assert.equal(applyMessageFrame([], '1', frames[1]).length, 0);
});

test('messages merge in id order; status frames update only what is on screen', () => {
  let list = mergeMessages([], [msg('3', '1'), msg('1', '1')]);
  list = applyMessageFrame(list, '1', frame('new_message', { conversation: conv('1', 'a'), message: msg('2', '1') }));
  assert.deepEqual(list.map((m) => m.id), ['1', '2', '3']);
  list = applyMessageFrame(list, '1', frame('message_status', { message: msg('3', '1', { direction: 'out', status: 'delivered' }) }));
  assert.equal(list[2].status, 'delivered');
  const same = applyMessageFrame(list, '1', frame('message_status', { message: msg('99', '1', { status: 'read' }) }));
  assert.equal(same, list);
  const other = applyMessageFrame(list, '1', frame('new_message', { conversation: conv('2', 'a'), message: msg('5', '2') }));
  assert.equal(other, list);
});

test('the preview is cut at 140 characters on a character boundary', () => {
  const long = '😀'.repeat(150);
  const p = previewOf(msg('1', '1', { content: { type: 'text', text: long } }));
  assert.equal(Array.from(p).length, 141);
  assert.ok(p.endsWith('…'));
  assert.equal(previewOf(msg('1', '1', { content: { type: 'image', caption: 'cap' } })), 'cap');
});

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

test('resume point: starts at hello, advances, skips duplicates, survives a reload, resyncs', () => {
  const storage = memoryStorage();
  const r = new ResumePoint(storage);
  assert.equal(r.last, null);
  r.hello(10);
  assert.equal(r.last, 10);
  assert.ok(r.accept(frame('new_message', {}, 11)));
  assert.ok(!r.accept(frame('new_message', {}, 11)), 'a duplicate is skipped');
  assert.ok(r.accept(frame('typing_indicator', {})), 'ephemeral frames pass');
  assert.equal(r.last, 11);
  r.hello(50); // a reconnect's hello does not move a known resume point
  assert.equal(r.last, 11);
  const reloaded = new ResumePoint(storage);
  assert.equal(reloaded.last, 11);
  assert.ok(!reloaded.accept(frame('new_message', {}, 11)), 'already processed before the reload');
  assert.ok(reloaded.accept(frame('new_message', {}, 12)));
  reloaded.resync(40);
  assert.equal(reloaded.last, 40);
  reloaded.forget();
  assert.equal(new ResumePoint(storage).last, null);
});

test('backoff grows to 15 s with jitter', () => {
  assert.equal(backoffMs(0, () => 0), 500);
  assert.equal(backoffMs(1, () => 0), 1000);
  assert.equal(backoffMs(20, () => 0), 15000);
  assert.equal(backoffMs(20, () => 1), 10500);
});

test('links: only http(s) and mailto become links, punctuation stays outside', () => {
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('www.example.com'), 'https://www.example.com/');
  const parts = splitLinks('see https://example.com/a?b=1. or javascript:alert(1) <b>x</b>');
  assert.deepEqual(parts[1], { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' });
  assert.ok(parts.every((p) => !p.href || p.href.startsWith('https:')));
  assert.equal(parts.map((p) => p.text).join(''), 'see https://example.com/a?b=1. or javascript:alert(1) <b>x</b>');
});

test('the window closes 24 hours after the customer wrote, on WhatsApp only, or once refused', () => {
  const now = Date.parse('2026-12-03T10:00:00.000Z');
  const wrote = (at: string, extra: Partial<Message> = {}) => msg('1', 'c', { created_at: at, ...extra });
  assert.equal(windowClosed('whatsapp', [wrote('2026-12-02T11:00:00.000Z')], now), false, '23 hours');
  assert.equal(windowClosed('whatsapp', [wrote('2026-12-02T09:59:00.000Z')], now), true, '24 hours and a minute');
  // An agent's reply or a note does not open it again; the customer's own last message counts.
  assert.equal(windowClosed('whatsapp', [wrote('2026-12-01T09:00:00.000Z'), msg('2', 'c', { direction: 'out', created_at: '2026-12-03T09:00:00.000Z' })], now), true);
  assert.equal(windowClosed('whatsapp', [wrote('2026-12-01T09:00:00.000Z'), wrote('2026-12-03T09:00:00.000Z', { kind: 'system' })], now), true);
  assert.equal(windowClosed('telegram', [wrote('2026-11-01T09:00:00.000Z')], now), false, 'Telegram has no window');
  assert.equal(windowClosed('whatsapp', [], now), false, 'nothing loaded: the platform decides');
  assert.equal(windowClosed('whatsapp', [wrote('2026-12-03T09:00:00.000Z')], now, true), true, 'refused');
  // The platform's time of writing counts, not when the daemon stored it (a late delivery).
  assert.equal(windowClosed('whatsapp', [wrote('2026-12-03T09:00:00.000Z', { platform_timestamp: '2026-12-02T09:00:00.000Z' })], now), true);
  assert.equal(windowClosed('messenger', [], now, true), false, 'a channel without templates gets none offered');
});

test('a template is filled for the preview and sent with one text parameter per placeholder', () => {
  const t = { name: 'order_update', language: 'en_US', text: 'Order {{1}} ships {{2}}', parameters: 2 };
  assert.equal(fillTemplate(t.text, ['B-1042', '']), 'Order B-1042 ships {{2}}');
  assert.deepEqual(templateContent(t, ['B-1042', 'today', 'extra']), {
    type: 'template', name: 'order_update', language: 'en_US',
    components: [{ type: 'body', parameters: [{ type: 'text', text: 'B-1042' }, { type: 'text', text: 'today' }] }],
  });
  assert.deepEqual(templateContent({ ...t, parameters: 0 }, []), { type: 'template', name: 'order_update', language: 'en_US' });
});

test('a contact_updated frame renames, merges and unmerges the rows of its identities only', () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  const tg = conv('1', '2026-12-02T09:00:00Z', { contact: { id: '10', display_name: 'Ada', platform_id: '777' } });
  const wa = conv('2', '2026-12-02T08:00:00Z', { channel_id: 'wa', contact: { id: '11', display_name: 'Ada WA', platform_id: '4915' } });
  const other = conv('3', '2026-12-02T07:00:00Z', { contact: { id: '12', display_name: 'Bob', platform_id: '888' } });
  s = addPage(s, [tg, wa, other], true);
  const identity = (id: string, channel_id: string, platform_id: string) => ({ id, channel_id, platform_id });
  const person = (id: string, display_name: string, identities: ReturnType<typeof identity>[]) => ({
    id, name: display_name, display_name, email: null, phone: null, company: null, notes: null, attributes: {}, identities,
  });

  // Merged: the WhatsApp row now belongs to contact 10 and shows its name.
  s = applyFrame(s, frame('contact_updated', { contact: person('10', 'Ada Lovelace', [identity('1', 'tg', '777'), identity('2', 'wa', '4915')]), changed_by: '1', merged_from: '11' })).state;
  assert.deepEqual(s.items.map((c) => [c.id, c.contact?.id, c.contact?.display_name]), [['1', '10', 'Ada Lovelace'], ['2', '10', 'Ada Lovelace'], ['3', '12', 'Bob']]);
  // Unmerged: contact 11 takes its identity back.
  s = applyFrame(s, frame('contact_updated', { contact: person('11', 'Ada WA', [identity('2', 'wa', '4915')]), changed_by: '1' })).state;
  assert.deepEqual(s.items.map((c) => c.contact?.id), ['10', '11', '12']);
  assert.equal(s.known.get('2')?.contact?.display_name, 'Ada WA');
  // A platform id shared across channels is not the same identity.
  const before = s;
  s = applyFrame(s, frame('contact_updated', { contact: person('13', 'Someone', [identity('9', 'wa', '777')]), changed_by: '1' })).state;
  assert.equal(s, before, 'nothing changed, nothing re-rendered');
});

test("a customer message notifies in one's own and unassigned conversations, not in a colleague's", () => {
  let s = newInbox(ME, { tab: 'all', status: 'open' });
  s = addPage(s, [conv('1', '2026-12-02T08:00:00Z'), conv('2', '2026-12-02T08:00:00Z', { assignee_id: ME }), conv('3', '2026-12-02T08:00:00Z', { assignee_id: '4' })], true);
  const arrives = (id: string, m: string, extra: Partial<Message> = {}) =>
    applyFrame(s, frame('new_message', { conversation: s.known.get(id), message: msg(m, id, extra) })).effects.notify?.conversation.id;
  assert.equal(arrives('1', '10'), '1', 'unassigned');
  assert.equal(arrives('2', '11'), '2', 'mine');
  assert.equal(arrives('3', '12'), undefined, "a colleague's");
  assert.equal(arrives('2', '13', { direction: 'out' }), undefined, 'our own reply');
});
