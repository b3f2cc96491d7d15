// The console's state logic, free of the DOM so it can be unit-tested: how a WebSocket frame
// changes the conversation list and the open conversation, the unread counters, and the
// bookkeeping that lets a reconnect resume where it left off.

import type { Conversation, Frame, LastMessage, Message, Person, Tab } from './types';

export interface ListFilter {
  tab: Tab;
  status: string; // "" = any, else one status or several comma-separated
  channel?: string; // a channel id
  label?: string; // a label name
  priority?: string; // none, low, medium, high, urgent
  // The search box: the daemon judges a match (title, contact, messages, notes), the console
  // cannot, so while it is set a frame moves or drops a listed conversation but adds none.
  q?: string;
}

export function assigneeId(c: Conversation): string | null {
  return c.assignee?.id ?? c.assignee_id ?? null;
}

// Whether a conversation belongs in a list with this filter, for agent `me`.
export function belongs(c: Conversation, f: ListFilter, me: string): boolean {
  const who = assigneeId(c);
  if (f.tab === 'mine' && who !== me) return false;
  if (f.tab === 'unassigned' && who !== null) return false;
  if (f.status && !f.status.split(',').includes(c.status)) return false;
  if (f.channel && c.channel_id !== f.channel) return false;
  if (f.label && !(c.labels ?? []).includes(f.label)) return false;
  if (f.priority && (c.priority ?? 'none') !== f.priority) return false;
  return true;
}

function numericId(id: string | null | undefined): number {
  return id ? Number(id) || 0 : 0;
}

// Newest activity first, then the higher id, as the daemon orders its list.
export function compareActivity(a: Conversation, b: Conversation): number {
  if (a.last_activity_at !== b.last_activity_at) return a.last_activity_at < b.last_activity_at ? 1 : -1;
  return numericId(b.id) - numericId(a.id);
}

// The conversation as a frame carries it, on top of what the client knew: frames omit the
// caller's own unread_count and read position (they go to many agents), so those are kept.
export function mergeConversation(known: Conversation | undefined, incoming: Conversation): Conversation {
  if (!known) return incoming;
  const merged: Conversation = { ...known, ...incoming };
  if (incoming.unread_count === undefined) merged.unread_count = known.unread_count;
  if (incoming.last_read_message_id === undefined) merged.last_read_message_id = known.last_read_message_id;
  if (incoming.last_message === undefined) merged.last_message = known.last_message;
  return merged;
}

// Puts `c` where it belongs in a list ordered by activity (or takes it out when the filter no
// longer admits it). Returns a new array.
export function placeInList(list: Conversation[], c: Conversation, f: ListFilter, me: string): Conversation[] {
  const rest = list.filter((x) => x.id !== c.id);
  if (!belongs(c, f, me)) return rest;
  if (f.q && rest.length === list.length) return rest;
  let i = 0;
  while (i < rest.length && compareActivity(rest[i], c) <= 0) i++;
  rest.splice(i, 0, c);
  return rest;
}

const PREVIEW_LIMIT = 140;

// The text a list row shows for a message: what the daemon's last_message.preview holds.
export function previewOf(m: Message): string {
  const text = m.content.text ?? m.content.caption ?? '';
  const chars = Array.from(text);
  return chars.length > PREVIEW_LIMIT ? chars.slice(0, PREVIEW_LIMIT).join('') + '…' : text;
}

export function lastMessageOf(m: Message): LastMessage {
  return {
    id: m.id,
    direction: m.direction,
    kind: m.content.type,
    preview: previewOf(m),
    created_at: m.created_at,
    sender: m.sender ?? null,
  };
}

export interface InboxState {
  me: string;
  filter: ListFilter;
  items: Conversation[];
  // Every conversation the client has heard of, for frames that name only an id and for
  // conversations that left the current tab.
  known: Map<string, Conversation>;
  open: string | null; // the conversation on screen
  focused: boolean; // the tab is visible: the open conversation's new messages count as read
}

export function newInbox(me: string, filter: ListFilter): InboxState {
  return { me, filter, items: [], known: new Map(), open: null, focused: true };
}

// What applying a frame asks the caller to do besides the state change.
export interface Effects {
  fetchConversation?: string; // a conversation entered this list with only its id known
  notify?: { conversation: Conversation; message: Message }; // a customer wrote
  reload?: boolean; // resync_required: the lists are stale
}

function remember(s: InboxState, c: Conversation): Conversation {
  const merged = mergeConversation(s.known.get(c.id), c);
  s.known.set(c.id, merged);
  return merged;
}

// Adds a page fetched over REST (the caller's own unread counts included). `fresher`: the
// conversations that frames changed while the request was under way — the page's copy of them
// is older than what the client holds, so the client's stands (and one the page lacks is kept).
export function addPage(s: InboxState, page: Conversation[], replace: boolean, fresher: ReadonlySet<string> = new Set()): InboxState {
  let items = replace ? [] : s.items.slice();
  for (const c of page) {
    if (fresher.has(c.id) && s.known.has(c.id)) continue;
    s.known.set(c.id, c);
    items = items.filter((x) => x.id !== c.id);
    items.push(c);
  }
  for (const id of fresher) {
    const c = s.known.get(id);
    if (c) items = placeInList(items, c, s.filter, s.me);
  }
  return { ...s, items };
}

export function upsert(s: InboxState, c: Conversation): InboxState {
  const merged = remember(s, c);
  return { ...s, items: placeInList(s.items, merged, s.filter, s.me) };
}

// A message arrived (new_message, message_sent): the conversation moves up, its preview
// changes, and an inbound message the agent has not seen counts as unread. Idempotent: a frame
// replayed after the REST list already had the message changes nothing.
function withMessage(s: InboxState, conv: Conversation, m: Message): { state: InboxState; fresh: boolean } {
  const known = s.known.get(conv.id);
  const lastId = numericId(known?.last_message?.id);
  const fresh = numericId(m.id) > lastId;
  const next: Conversation = { ...conv };
  if (m.kind !== 'note' && fresh) next.last_message = conv.last_message ?? lastMessageOf(m);
  else if (!fresh) delete next.last_message;
  const merged = mergeConversation(known, next);
  if (fresh && m.direction === 'in' && m.kind !== 'note') {
    const reading = s.open === conv.id && s.focused;
    merged.unread_count = reading ? 0 : (merged.unread_count ?? 0) + 1;
  }
  s.known.set(conv.id, merged);
  return { state: { ...s, items: placeInList(s.items, merged, s.filter, s.me) }, fresh };
}

// A contact changed (renamed, merged, unmerged): every conversation of one of its identities
// now shows it. The frame lists the identities, not the conversations, so they are matched by
// channel and platform id.
export function applyContact(s: InboxState, p: Person | undefined): InboxState {
  if (!p?.id || !Array.isArray(p.identities)) return s;
  const ours = (c: Conversation) => p.identities.some((i) => i.channel_id === c.channel_id && i.platform_id === (c.contact?.platform_id ?? c.platform_id));
  let changed = false;
  for (const [id, c] of s.known) {
    if (!c.contact || !ours(c)) continue;
    if (c.contact.id === p.id && c.contact.display_name === p.display_name) continue;
    s.known.set(id, { ...c, contact: { ...c.contact, id: p.id, display_name: p.display_name } });
    changed = true;
  }
  return changed ? { ...s, items: s.items.map((c) => s.known.get(c.id) ?? c) } : s;
}

export function applyFrame(s: InboxState, frame: Frame, agentName?: (id: string) => string | undefined): { state: InboxState; effects: Effects } {
  const d = frame.data ?? {};
  switch (frame.type) {
    case 'new_message':
    case 'message_sent': {
      if (!d.conversation || !d.message) return { state: s, effects: {} };
      const { state, fresh } = withMessage(s, d.conversation, d.message);
      const effects: Effects = {};
      // The agent is told of customers in their own and unassigned conversations, not of a
      // colleague's (an admin receives those too).
      const c = state.known.get(d.conversation.id)!;
      const who = assigneeId(c);
      if (fresh && frame.type === 'new_message' && d.message.direction === 'in' && d.message.kind !== 'note' && (who === null || who === s.me))
        effects.notify = { conversation: c, message: d.message };
      return { state, effects };
    }
    case 'note_added':
    case 'conversation_status':
    case 'conversation_updated':
      if (!d.conversation) return { state: s, effects: {} };
      // A note does not change the preview (last_message ignores notes).
      return { state: upsert(s, frame.type === 'note_added' ? { ...d.conversation, last_message: undefined } : d.conversation), effects: {} };
    case 'conversation_assigned': {
      const id = String(d.conversation_id);
      const known = s.known.get(id);
      const agentId: string | null = d.agent_id ?? null;
      if (!known) {
        // Assigned to me (or handed back to everyone) and never seen: fetch it.
        const wanted = agentId === s.me ? s.filter.tab !== 'unassigned' : agentId === null && s.filter.tab !== 'mine';
        return { state: s, effects: wanted ? { fetchConversation: id } : {} };
      }
      const name = agentId ? agentName?.(agentId) ?? known.assignee?.name ?? agentId : null;
      const next: Conversation = { ...known, assignee_id: agentId, assignee: agentId ? { id: agentId, name: name! } : null };
      s.known.set(id, next);
      return { state: { ...s, items: placeInList(s.items, next, s.filter, s.me) }, effects: {} };
    }
    case 'conversation_read': {
      const id = String(d.conversation_id);
      const known = s.known.get(id);
      if (!known || d.agent_id !== s.me) return { state: s, effects: {} };
      const next = { ...known, unread_count: d.unread_count ?? 0, last_read_message_id: d.last_read_message_id ?? null };
      s.known.set(id, next);
      return { state: { ...s, items: s.items.map((x) => (x.id === id ? next : x)) }, effects: {} };
    }
    case 'contact_updated':
      return { state: applyContact(s, d.contact), effects: {} };
    case 'resync_required':
      return { state: s, effects: { reload: true } };
    default:
      return { state: s, effects: {} };
  }
}

// The agent read a conversation locally (it is open and the tab is visible).
export function markReadLocally(s: InboxState, id: string): InboxState {
  const known = s.known.get(id);
  if (!known || !known.unread_count) return s;
  const next = { ...known, unread_count: 0, last_read_message_id: known.last_message?.id ?? known.last_read_message_id ?? null };
  s.known.set(id, next);
  return { ...s, items: s.items.map((x) => (x.id === id ? next : x)) };
}

// Unread messages over every conversation the client knows in its own and unassigned queues:
// the number in the tab title.
export function totalUnread(s: InboxState): number {
  let n = 0;
  for (const c of s.known.values()) {
    const who = assigneeId(c);
    if (who === s.me || who === null) n += c.unread_count ?? 0;
  }
  return n;
}

// --- the open conversation's messages, oldest first ---

export function mergeMessages(list: Message[], incoming: Message[]): Message[] {
  const byId = new Map(list.map((m) => [m.id, m]));
  for (const m of incoming) byId.set(m.id, { ...byId.get(m.id), ...m });
  return [...byId.values()].sort((a, b) => numericId(a.id) - numericId(b.id));
}

// new_message / message_sent / note_added / message_status / message_updated /
// message_reaction for the conversation on screen. Returns the list unchanged for others.
export function applyMessageFrame(list: Message[], conversationId: string, frame: Frame): Message[] {
  const m: Message | undefined = frame.data?.message;
  if (!m || String(m.conversation_id) !== conversationId) return list;
  switch (frame.type) {
    case 'new_message':
    case 'message_sent':
    case 'note_added':
      return mergeMessages(list, [m]);
    case 'message_status':
    case 'message_updated':
    case 'message_reaction':
      // Only a message already on screen changes: an older one is loaded as it is.
      return list.some((x) => x.id === m.id) ? mergeMessages(list, [m]) : list;
    default:
      return list;
  }
}

// The first page of a conversation, with the frames that arrived while it loaded replayed on
// top, in order: the page may have been read before a change whose frame came meanwhile (a
// media download that finished: message_updated for a message not on screen yet).
export function pageWithFrames(page: Message[], conversationId: string, frames: Frame[]): Message[] {
  return frames.reduce((list, f) => applyMessageFrame(list, conversationId, f), mergeMessages([], page));
}

// --- resume bookkeeping ---

// The last seq this tab processed, kept in sessionStorage (per tab) so a reload resumes too.
// Frames are applied once: a seq already seen (a replay overlapping live frames) is skipped.
export class ResumePoint {
  private seen = new Set<number>();
  last: number | null;

  constructor(private storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null, private key = 'sb.after_seq') {
    const saved = storage?.getItem(key);
    this.last = saved !== null && saved !== undefined && /^\d+$/.test(saved) ? Number(saved) : null;
  }

  // The hello frame: a first connection starts at the server's last seq.
  hello(lastSeq: number | undefined): void {
    if (this.last === null && typeof lastSeq === 'number') this.set(lastSeq);
  }

  // true when the frame is new and should be applied.
  accept(frame: Frame): boolean {
    if (typeof frame.seq !== 'number') return true; // ephemeral frames (typing, hello, …)
    if (this.seen.has(frame.seq) || (this.last !== null && frame.seq <= this.last && this.seen.size === 0)) return false;
    this.seen.add(frame.seq);
    if (this.seen.size > 2000) this.seen.delete(this.seen.values().next().value as number);
    if (this.last === null || frame.seq > this.last) this.set(frame.seq);
    return true;
  }

  // resync_required: everything before the server's last seq is covered by the reload.
  resync(lastSeq: number | undefined): void {
    this.seen.clear();
    if (typeof lastSeq === 'number') this.set(lastSeq);
  }

  forget(): void {
    this.last = null;
    this.seen.clear();
    this.storage?.removeItem(this.key);
  }

  private set(n: number): void {
    this.last = n;
    this.storage?.setItem(this.key, String(n));
  }
}

// Reconnect delay: exponential from 500 ms to 15 s, with up to 30 % jitter so a restarted
// daemon is not hit by every tab at the same instant.
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(15_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (1 - 0.3 * random()));
}

// --- the platform's customer-service window (WhatsApp: 24 hours after the customer wrote) ---

export interface Template {
  name: string;
  language: string;
  text: string;
  parameters: number;
}

const WINDOW_MS: Record<string, number> = { whatsapp: 24 * 3_600_000 };

// Whether only a template gets through: the channel has a window and the customer's last message
// on screen is older than it, or the platform already refused a message as outside it
// (`refused`). With no customer message loaded the window counts as open: the daemon's
// 422 window_closed then says otherwise.
export function windowClosed(plugin: string | undefined, messages: Message[], now: number, refused = false): boolean {
  const span = plugin ? WINDOW_MS[plugin] : undefined;
  if (span === undefined) return false;
  if (refused) return true;
  const last = lastCustomerMessage(messages);
  return !!last && now - Date.parse(last.platform_timestamp ?? last.created_at) > span; // when the customer wrote
}

// The customer's last message on screen (not a notice, not the team's).
export function lastCustomerMessage(messages: Message[]): Message | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.direction === 'in' && (m.kind ?? 'message') === 'message') return m;
  }
  return undefined;
}

// A template's text with the agent's parameters in its {{n}} places (what the customer reads).
export function fillTemplate(text: string, params: string[]): string {
  return text.replace(/\{\{(\d+)\}\}/g, (whole, n) => params[Number(n) - 1] || whole);
}

// The reply's content for a template: one text parameter per placeholder, in order.
export function templateContent(t: Template, params: string[]): Record<string, unknown> {
  const content: Record<string, unknown> = { type: 'template', name: t.name, language: t.language };
  if (t.parameters > 0)
    content.components = [{ type: 'body', parameters: params.slice(0, t.parameters).map((text) => ({ type: 'text', text })) }];
  return content;
}
