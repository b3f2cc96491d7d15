// The app's state and the actions on it. Components read it through useStore() and re-render on
// every change; the pure logic (state.ts) does the merging.

import { useEffect, useState } from 'preact/hooks';
import { Api, ApiError, loadSession, query, saveSession, type Session } from './api';
import { type LinkState, Realtime } from './realtime';
import {
  addPage, applyContact, applyFrame, applyMessageFrame, markReadLocally, mergeMessages, newInbox, pageWithFrames, ResumePoint, totalUnread, upsert,
  type InboxState, type ListFilter, type Template,
} from './state';
import type { Agent, AttributeDef, Conversation, Frame, Me, MergeSuggestion, Message, Page, Person, Tab } from './types';

export interface Label {
  name: string;
  color?: string;
  description?: string;
}

export interface CannedReply {
  id: string;
  shortcode: string;
  text: string;
  scope?: string;
  rendered?: string;
}

export interface Counts {
  [tab: string]: Record<string, number>;
}

export interface OpenConversation {
  id: string;
  messages: Message[];
  older: string | null; // cursor for older messages; null = the beginning is loaded
  loading: boolean;
  typing: boolean;
  error: string | null;
}

// The contact of the open conversation, for the contact panel.
export interface OpenContact {
  id: string; // as the conversation names it (a merged one is answered as the contact it went into)
  person: Person | null;
  loading: boolean;
  missing: boolean; // 404: an older daemon without contacts, or not the caller's to see
  error: string | null;
  others: Conversation[]; // its other conversations, newest first (the first OTHERS_SHOWN)
  suggestions: { person: Person; phone?: string }[]; // admins: contacts that share a phone number
}

const OTHERS_SHOWN = 20;

// What the daemon can do: found out once by asking (404 = an older daemon).
export interface Features {
  counts: boolean;
  labels: boolean;
  canned: boolean;
  directory: boolean; // GET /agents for every token
}

class Store {
  api: Api | null = null;
  me: Me | null = null;
  link: LinkState = 'signed_out';
  inbox: InboxState = newInbox('', { tab: 'all', status: 'open' });
  cursor: string | null = null;
  listLoading = false;
  listError: string | null = null;
  counts: Counts | null = null;
  agents: Agent[] = [];
  labels: Label[] = [];
  channels: { id: string; plugin: string; state: string; reason?: string; templates?: Template[] }[] = [];
  attributes: AttributeDef[] = []; // the contact attributes admins defined
  contact: OpenContact | null = null;
  private contactRequest = 0;
  features: Features = { counts: false, labels: false, canned: false, directory: false };
  // The frames that arrive while the open conversation's first page loads (pageWithFrames).
  private convFrames: Frame[] | null = null;
  conv: OpenConversation | null = null;
  notifications = localStorage.getItem('sb.notifications') === 'on';
  sound = localStorage.getItem('sb.sound') === 'on';
  private audio: AudioContext | null = null;
  toast: string | null = null;
  private realtime: Realtime | null = null;
  private listeners = new Set<() => void>();
  private listRequest = 0; // answers to an older list request are dropped
  private touched: Set<string> | null = null; // conversations frames changed during a list request
  private countsTimer: number | undefined;

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  // Re-renders at most once per animation frame: a burst of frames (thousands of messages in
  // a second) changes the state as often as it comes but draws it once per frame. A background
  // tab, whose animation frames are paused, draws on the timer (the title always at once).
  private drawPending = false;

  emit(): void {
    const unread = totalUnread(this.inbox);
    document.title = unread > 0 ? `(${unread}) Switchboard` : 'Switchboard';
    if (this.drawPending) return;
    this.drawPending = true;
    const draw = () => {
      if (!this.drawPending) return;
      this.drawPending = false;
      for (const f of this.listeners) f();
    };
    requestAnimationFrame(draw);
    setTimeout(draw, 100);
  }

  say(text: string): void {
    this.toast = text;
    this.emit();
    setTimeout(() => {
      if (this.toast === text) {
        this.toast = null;
        this.emit();
      }
    }, 5000);
  }

  // --- session ---

  async restore(): Promise<void> {
    const s = loadSession();
    if (s) await this.signIn(s).catch(() => this.signOut());
    else this.emit();
  }

  async signIn(s: Session): Promise<void> {
    const api = new Api(s);
    const me = await api.get<Me>('/api/v1/me');
    saveSession(s);
    this.api = api;
    this.me = me;
    const tab: Tab = me.role === 'admin' ? 'all' : 'mine';
    this.inbox = newInbox(me.id, { tab, status: 'open' });
    this.link = 'connecting';
    this.realtime = new Realtime(api, new ResumePoint(sessionStorage), (f) => this.onFrame(f), (st) => {
      this.link = st;
      this.emit();
    }, () => void this.checkToken());
    this.realtime.start();
    this.emit();
    await Promise.all([this.reloadList(), this.loadDirectory()]);
  }

  signOut(): void {
    this.realtime?.stop();
    this.realtime = null;
    saveSession(null);
    this.api = null;
    this.me = null;
    this.conv = null;
    this.link = 'signed_out';
    this.inbox = newInbox('', { tab: 'all', status: 'open' });
    location.hash = '';
    this.emit();
  }

  private async checkToken(): Promise<void> {
    try {
      await this.api?.get('/api/v1/me');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        this.signOut();
        this.say('Your token is no longer valid: sign in again.');
      }
    }
  }

  // --- directory, labels, channels ---

  async loadDirectory(): Promise<void> {
    const api = this.api!;
    const [agents, labels, channels, canned, attributes] = await Promise.all([
      api.optional<Page<Agent>>('/api/v1/agents'),
      api.optional<Page<Label>>('/api/v1/labels'),
      api.optional<Page<any>>('/api/v1/channels'),
      api.optional<Page<CannedReply>>('/api/v1/canned-replies'),
      api.optional<Page<AttributeDef>>('/api/v1/contact-attributes'),
    ]).catch(() => [null, null, null, null, null] as const);
    this.features.directory = !!agents;
    this.agents = agents?.items ?? [];
    this.features.labels = !!labels;
    this.labels = labels?.items ?? [];
    this.channels = channels?.items ?? [];
    this.features.canned = !!canned;
    this.attributes = attributes?.items ?? [];
    this.emit();
  }

  // The plugin behind a channel (its icon, its limits, its 24-hour window).
  pluginOf(channelId: string): string | undefined {
    return this.channels.find((ch) => ch.id === channelId)?.plugin;
  }

  agentName(id: string | null | undefined): string | undefined {
    if (!id) return undefined;
    if (this.me && id === this.me.id) return this.me.name;
    return this.agents.find((a) => a.id === id)?.name;
  }

  // --- the list ---

  setFilter(f: Partial<ListFilter>): void {
    this.inbox = { ...this.inbox, filter: { ...this.inbox.filter, ...f } };
    void this.reloadList();
  }

  private listQuery(cursor: string | null): string {
    const f = this.inbox.filter;
    const assignee = f.tab === 'mine' ? 'me' : f.tab === 'unassigned' ? 'unassigned' : null;
    const { status, channel, label, priority, q } = f;
    return `/api/v1/conversations${query({ status, channel, label, priority, q, assignee, limit: 50, cursor })}`;
  }

  async reloadList(): Promise<void> {
    if (!this.api) return;
    const request = ++this.listRequest;
    this.touched = new Set();
    this.listLoading = true;
    this.emit();
    try {
      const page = await this.api.get<Page<Conversation>>(this.listQuery(null));
      if (request !== this.listRequest) return;
      this.inbox = addPage(this.inbox, page.items, true, this.touched);
      this.cursor = page.next_cursor ?? null;
      this.listError = null;
    } catch (e) {
      this.listError = (e as Error).message;
    }
    this.listLoading = false;
    this.emit();
    void this.loadCounts();
  }

  async loadMore(): Promise<void> {
    if (!this.api || !this.cursor || this.listLoading) return;
    this.listLoading = true;
    this.emit();
    const request = this.listRequest;
    this.touched = new Set();
    try {
      const page = await this.api.get<Page<Conversation>>(this.listQuery(this.cursor));
      if (request !== this.listRequest) return;
      this.inbox = addPage(this.inbox, page.items, false, this.touched);
      this.cursor = page.next_cursor ?? null;
    } catch (e) {
      this.listError = (e as Error).message;
    }
    this.listLoading = false;
    this.emit();
  }

  // Counts per tab (a newer daemon); coalesced so a burst of frames asks once.
  loadCounts(): void {
    clearTimeout(this.countsTimer);
    this.countsTimer = window.setTimeout(async () => {
      const { channel, label, priority } = this.inbox.filter;
      const path = `/api/v1/conversations/counts${query({ channel, label, priority })}`;
      const counts = await this.api?.optional<Counts>(path).catch(() => null);
      this.features.counts = !!counts;
      this.counts = counts ?? null;
      this.emit();
    }, 300);
  }

  // --- frames ---

  private onFrame(frame: Frame): void {
    if (frame.type === 'hello' || frame.type === 'pong') return;
    if (frame.type === 'typing_indicator') {
      if (this.conv && String(frame.data?.conversation_id) === this.conv.id) {
        this.conv = { ...this.conv, typing: frame.data.state === 'on' };
        this.emit();
      }
      return;
    }
    if (frame.type === 'agent_presence') {
      this.agents = this.agents.map((a) => (a.id === frame.data.agent_id ? { ...a, ...frame.data, id: a.id } : a));
      this.emit();
      return;
    }
    if (frame.type === 'agent_mentioned') {
      // Admins receive every event: only the mentioned agent is told.
      if (String(frame.data?.agent_id) === this.inbox.me) this.say('You were mentioned in a note.');
      return;
    }
    this.inbox.focused = document.visibilityState === 'visible';
    const { state, effects } = applyFrame(this.inbox, frame, (id) => this.agentName(id));
    this.inbox = state;
    const touchedId = frame.data?.conversation?.id ?? frame.data?.conversation_id;
    if (touchedId !== undefined && touchedId !== null) this.touched?.add(String(touchedId));
    if (this.conv) {
      this.convFrames?.push(frame);
      const messages = applyMessageFrame(this.conv.messages, this.conv.id, frame);
      if (messages !== this.conv.messages) this.conv = { ...this.conv, messages, typing: frame.type === 'new_message' ? false : this.conv.typing };
      if (frame.type === 'new_message' && String(frame.data?.conversation?.id) === this.conv.id && this.inbox.focused) void this.markRead(this.conv.id);
    }
    if (effects.fetchConversation) void this.fetchConversation(effects.fetchConversation);
    if (effects.reload) {
      void this.reloadList();
      if (this.conv) void this.openConversation(this.conv.id);
    }
    if (effects.notify) this.notify(effects.notify.conversation, effects.notify.message);
    if (frame.type.startsWith('conversation_') || frame.type === 'new_message') this.loadCounts();
    if (frame.type === 'contact_updated' && this.contact && this.inbox.open) {
      const shown = [this.contact.id, this.contact.person?.id];
      if (shown.includes(String(frame.data?.contact?.id)) || shown.includes(String(frame.data?.merged_from))) void this.loadContact(this.contact.id, this.inbox.open);
    }
    this.emit();
  }

  // A conversation this agent may no longer see (a colleague took it): out of every list.
  lost(id: string): void {
    this.inbox.known.delete(id);
    this.inbox = { ...this.inbox, items: this.inbox.items.filter((c) => c.id !== id) };
    if (this.conv?.id === id) {
      this.conv = null;
      this.inbox.open = null;
      location.hash = '#/inbox';
    }
    this.say('Already taken by a colleague: it is no longer in your queues.');
  }

  private async fetchConversation(id: string): Promise<void> {
    try {
      const c = await this.api!.get<Conversation>(`/api/v1/conversations/${id}`);
      this.inbox = upsert(this.inbox, c);
      this.emit();
    } catch {
      /* gone or no longer visible */
    }
  }

  // A customer wrote in one of the agent's own or unassigned conversations (applyFrame decides)
  // while the tab is in the background: a desktop notification and a chime, each if opted in.
  private notify(c: Conversation, m: Message): void {
    if (document.visibilityState === 'visible') return;
    if (this.sound) this.chime();
    if (!this.notifications || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const who = c.contact?.display_name || c.contact?.name || c.title || 'A customer';
    // Notification text is plain text: nothing in it is interpreted as markup.
    new Notification(who, { body: m.content.text ?? m.content.caption ?? `[${m.content.type}]`, tag: `conv-${c.id}` });
  }

  // A short two-tone chime made with Web Audio (no sound file to fetch or to allow in the CSP).
  private chime(): void {
    const ctx = this.audio;
    if (!ctx) return;
    const t = ctx.currentTime;
    for (const [freq, start] of [[880, 0], [1320, 0.12]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.12, t + start);
      gain.gain.exponentialRampToValueAtTime(0.001, t + start + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + start);
      osc.stop(t + start + 0.25);
    }
  }

  // Turned on by a click, which is what lets the page make sound later (autoplay rules); it
  // chimes once so the agent hears what it will sound like.
  setSound(on: boolean): void {
    this.sound = on;
    localStorage.setItem('sb.sound', on ? 'on' : 'off');
    if (on) {
      this.audio ??= new AudioContext();
      void this.audio.resume();
      this.chime();
    }
    this.emit();
  }

  // A tab reloaded with the sound on needs a click before it may play: the first one anywhere.
  armSound(): void {
    if (!this.sound || this.audio) return;
    this.audio = new AudioContext();
    void this.audio.resume();
  }

  async setNotifications(on: boolean): Promise<void> {
    if (on && typeof Notification !== 'undefined' && Notification.permission !== 'granted') {
      on = (await Notification.requestPermission()) === 'granted';
    }
    this.notifications = on;
    localStorage.setItem('sb.notifications', on ? 'on' : 'off');
    this.emit();
  }

  // --- the open conversation ---

  async openConversation(id: string): Promise<void> {
    if (!this.api) return;
    if (!this.conv || this.conv.id !== id) this.conv = { id, messages: [], older: null, loading: true, typing: false, error: null };
    this.inbox = { ...this.inbox, open: id };
    this.emit();
    const frames: Frame[] = [];
    this.convFrames = frames;
    try {
      const [page, conv] = await Promise.all([
        this.api.get<Page<Message>>(`/api/v1/conversations/${id}/messages${query({ limit: 50 })}`),
        this.api.get<Conversation>(`/api/v1/conversations/${id}`),
      ]);
      if (this.conv?.id !== id) return;
      this.inbox.known.set(id, { ...this.inbox.known.get(id), ...conv });
      this.conv = { ...this.conv, messages: pageWithFrames(page.items, id, frames), older: page.next_cursor ?? null, loading: false, error: null };
      if (document.visibilityState === 'visible') void this.markRead(id);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && this.me?.role !== 'admin') return this.lost(id);
      if (this.conv?.id === id) this.conv = { ...this.conv, loading: false, error: (e as Error).message };
    } finally {
      // Also when the load failed or another conversation was opened meanwhile (unless that
      // one's load has its own buffer by now).
      if (this.convFrames === frames) this.convFrames = null;
    }
    this.emit();
  }

  closeConversation(): void {
    this.conv = null;
    this.inbox = { ...this.inbox, open: null };
    this.emit();
  }

  async loadOlder(): Promise<void> {
    const c = this.conv;
    if (!this.api || !c || !c.older || c.loading) return;
    this.conv = { ...c, loading: true };
    this.emit();
    try {
      const page = await this.api.get<Page<Message>>(`/api/v1/conversations/${c.id}/messages${query({ limit: 100, before: c.older })}`);
      if (this.conv?.id !== c.id) return;
      this.conv = { ...this.conv, messages: mergeMessages(this.conv.messages, page.items), older: page.next_cursor ?? null, loading: false };
    } catch (e) {
      if (this.conv?.id === c.id) this.conv = { ...this.conv, loading: false, error: (e as Error).message };
    }
    this.emit();
  }

  async markRead(id: string): Promise<void> {
    this.inbox = markReadLocally(this.inbox, id);
    this.emit();
    try {
      await this.api?.json('POST', `/api/v1/conversations/${id}/read`);
    } catch {
      // An older daemon answers 422 where the platform cannot mark read: the local state stands.
    }
  }

  async markUnread(id: string): Promise<void> {
    try {
      await this.api!.json('POST', `/api/v1/conversations/${id}/unread`);
      const c = this.inbox.known.get(id);
      if (c) this.inbox = upsert(this.inbox, { ...c, unread_count: Math.max(1, c.unread_count ?? 0) });
      this.closeConversation();
      location.hash = '#/inbox';
    } catch (e) {
      this.say(e instanceof ApiError && e.status === 404 ? 'This daemon cannot mark a conversation unread yet.' : (e as Error).message);
    }
  }

  // A message this console sent (or retried): merged at once, so the sender sees it before any
  // frame (the daemon sends the sending session none).
  addOwnMessage(m: Message): void {
    if (this.conv && this.conv.id === String(m.conversation_id)) this.conv = { ...this.conv, messages: mergeMessages(this.conv.messages, [m]) };
    const c = this.inbox.known.get(String(m.conversation_id));
    if (c && m.kind !== 'note') {
      this.inbox = upsert(this.inbox, { ...c, last_activity_at: m.created_at > c.last_activity_at ? m.created_at : c.last_activity_at,
        last_message: { id: m.id, direction: 'out', kind: m.content.type, preview: m.content.text ?? m.content.caption ?? '', created_at: m.created_at, sender: m.sender } });
    }
    this.emit();
  }

  // --- the open conversation's contact ---

  async loadContact(id: string, conversationId: string): Promise<void> {
    const api = this.api;
    if (!api) return;
    const request = ++this.contactRequest;
    if (this.contact?.id !== id) this.contact = { id, person: null, loading: true, missing: false, error: null, others: [], suggestions: [] };
    else this.contact = { ...this.contact, loading: true };
    this.emit();
    try {
      const person = await api.get<Person>(`/api/v1/contacts/${id}`);
      const otherIds = (person.conversation_ids ?? []).filter((x) => x !== conversationId).slice(0, OTHERS_SHOWN);
      const [others, suggestions] = await Promise.all([
        Promise.all(otherIds.map((x) => this.inbox.known.get(x) ?? api.optional<Conversation>(`/api/v1/conversations/${x}`).catch(() => null))),
        this.me?.role === 'admin' ? this.mergeSuggestions(person) : [],
      ]);
      if (request !== this.contactRequest) return;
      this.contact = { id, person, loading: false, missing: false, error: null, others: others.filter((o): o is Conversation => !!o), suggestions };
    } catch (e) {
      if (request !== this.contactRequest) return;
      const missing = e instanceof ApiError && e.status === 404;
      this.contact = { ...this.contact!, loading: false, missing, error: missing ? null : (e as Error).message };
    }
    this.emit();
  }

  private async mergeSuggestions(person: Person): Promise<{ person: Person; phone?: string }[]> {
    const api = this.api!;
    const page = await api.optional<Page<MergeSuggestion>>('/api/v1/contacts/merge-suggestions?limit=200').catch(() => null);
    const phones = new Map<string, string | undefined>();
    for (const s of page?.items ?? [])
      if (s.contact_ids.includes(person.id)) for (const other of s.contact_ids) if (other !== person.id) phones.set(other, s.phone);
    const found = await Promise.all([...phones.keys()].map((x) => api.optional<Person>(`/api/v1/contacts/${x}`).catch(() => null)));
    return found.filter((p): p is Person => !!p && p.id !== person.id).map((p) => ({ person: p, phone: phones.get(p.id) }));
  }

  // A merge the API answered: its rows show it at once (the daemon sends this session no frame
  // of its own change), and the panel reloads (other conversations and suggestions changed).
  private contactChanged(p: Person): void {
    this.inbox = applyContact(this.inbox, p);
    if (this.contact && this.inbox.open) void this.loadContact(this.contact.id, this.inbox.open);
    this.emit();
  }

  // PATCH /contacts/{id}; an ApiError (400 with the daemon's reason) is the caller's to show.
  // A profile change moves no identity or conversation: the answer is all the panel needs.
  async saveContact(id: string, change: Record<string, unknown>): Promise<void> {
    const p = await this.api!.json<Person>('PATCH', `/api/v1/contacts/${id}`, change);
    this.inbox = applyContact(this.inbox, p);
    if (this.contact?.person?.id === p.id) this.contact = { ...this.contact, person: p };
    this.emit();
  }

  async mergeContact(into: string, from: string): Promise<void> {
    this.contactChanged(await this.api!.json<Person>('POST', `/api/v1/contacts/${into}/merge`, { contact_id: from }));
  }

  // The merged contact `id` takes back its identities; both contacts' rows follow.
  async unmergeContact(id: string, keptId: string): Promise<void> {
    const back = await this.api!.json<Person>('POST', `/api/v1/contacts/${id}/unmerge`);
    this.inbox = applyContact(this.inbox, back);
    const kept = await this.api!.optional<Person>(`/api/v1/contacts/${keptId}`).catch(() => null);
    if (kept) this.inbox = applyContact(this.inbox, kept);
    const open = this.inbox.open ? this.inbox.known.get(this.inbox.open) : undefined;
    if (open?.contact?.id) void this.loadContact(open.contact.id, open.id);
    this.emit();
  }

  // A conversation the API answered with (PATCH, assignment, labels).
  updated(c: Conversation): void {
    this.inbox = upsert(this.inbox, c);
    this.loadCounts();
    this.emit();
  }

  conversation(id: string): Conversation | undefined {
    return this.inbox.known.get(id);
  }
}

export const store = new Store();

// Runs an action of the UI: its failure becomes a toast with the daemon's code and reason.
export async function run(f: () => Promise<unknown>, done?: () => void): Promise<void> {
  try {
    await f();
    done?.();
  } catch (e) {
    store.say(e instanceof ApiError ? `${e.code}: ${e.message}` : (e as Error).message);
  }
}

export function useStore(): Store {
  const [, bump] = useState(0);
  useEffect(() => store.subscribe(() => bump((n) => n + 1)), []);
  return store;
}
