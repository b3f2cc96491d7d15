// The open conversation: its actions, the history, the composer and the contact panel.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, newIdempotencyKey, query } from './api';
import { ContactPanel } from './contact';
import { contactName } from './inbox';
import { History } from './messages';
import { assigneeId, fillTemplate, lastCustomerMessage, type Template, templateContent, windowClosed } from './state';
import { type CannedReply, store, useStore } from './store';
import type { Conversation, Message } from './types';

// The platforms' text limits (docs/normalized-events.md); a note's is the daemon's.
const TEXT_LIMITS: Record<string, number> = { telegram: 4096, whatsapp: 4096, messenger: 2000, instagram: 1000 };
const NOTE_LIMIT = 10_000;
const UPLOAD_LIMIT = 25 * 1024 * 1024; // media.upload_limit's default

// Idempotency keys of this tab's sends, by stored message id: a retry reuses the original key.
const KEYS = 'sb.idempotency';
function rememberKey(messageId: string, key: string, body: unknown): void {
  const all = JSON.parse(sessionStorage.getItem(KEYS) ?? '{}');
  all[messageId] = { key, body };
  sessionStorage.setItem(KEYS, JSON.stringify(all));
}
function keyOf(messageId: string): { key: string; body: unknown } | undefined {
  return JSON.parse(sessionStorage.getItem(KEYS) ?? '{}')[messageId];
}

// Whether the daemon has a route: a known path answers 405 to a method it does not take, an
// unknown one 404 (docs/api.md), so a GET tells without side effects.
const probes = new Map<string, Promise<boolean>>();
export function supports(path: string): Promise<boolean> {
  let p = probes.get(path);
  if (!p) {
    p = store.api!.raw('GET', path).then(
      () => true,
      (e) => e instanceof ApiError && e.status !== 404,
    );
    probes.set(path, p);
  }
  return p;
}

// Sends a reply; the error code when it was refused (e.g. window_closed), else undefined.
export async function send(c: Conversation, body: { content: Record<string, unknown> }, key = newIdempotencyKey()): Promise<string | undefined> {
  try {
    const m = await store.api!.json<Message>('POST', `/api/v1/conversations/${c.id}/messages`, body, { 'Idempotency-Key': key });
    rememberKey(m.id, key, body);
    store.addOwnMessage(m);
    return undefined;
  } catch (e) {
    const stored: Message | undefined = e instanceof ApiError ? e.body?.error?.stored_message : undefined;
    if (stored) {
      rememberKey(stored.id, key, body);
      store.addOwnMessage(stored);
    }
    store.say(`Not sent: ${(e as Error).message}`);
    return e instanceof ApiError ? e.body?.error?.code ?? 'error' : 'error';
  }
}

// Conversations the platform refused a message for as outside its window (this tab).
const refusedWindow = new Set<string>();

// What WhatsApp still takes once its window closed: a template the channel lists, with its
// parameters filled in (docs/api.md, WhatsApp template messages).
function TemplateForm({ c, templates }: { c: Conversation; templates: Template[] }) {
  const [chosen, setChosen] = useState(0);
  const [params, setParams] = useState<string[]>([]);
  const [sending, setSending] = useState(false);
  const t = templates[chosen];
  const complete = !!t && params.slice(0, t.parameters).filter((p) => p.trim()).length === t.parameters;
  const submit = async () => {
    if (!t || !complete || sending) return;
    setSending(true);
    const failed = await send(c, { content: templateContent(t, params.map((p) => p.trim())) });
    if (!failed) setParams([]);
    setSending(false);
  };
  return (
    <form
      class="composer templates"
      aria-label="Send a template"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <p class="window-closed" role="status">
        The 24-hour window is closed: WhatsApp takes only an approved template until the customer writes again.
      </p>
      {templates.length === 0 ? (
        <p class="empty">No templates are configured for this channel (channels[].templates in the daemon's configuration).</p>
      ) : (
        <>
          <label>
            Template{' '}
            <select
              value={String(chosen)}
              onChange={(e) => {
                setChosen(Number((e.target as HTMLSelectElement).value));
                setParams([]);
              }}
            >
              {templates.map((x, i) => (
                <option key={`${x.name}/${x.language}`} value={String(i)}>
                  {x.name} ({x.language})
                </option>
              ))}
            </select>
          </label>
          {Array.from({ length: t.parameters }, (_, i) => (
            <label key={i} class="template-param">
              {`Parameter {{${i + 1}}}`}{' '}
              <input
                value={params[i] ?? ''}
                onInput={(e) => {
                  const next = [...params];
                  next[i] = (e.target as HTMLInputElement).value;
                  setParams(next);
                }}
              />
            </label>
          ))}
          {t.text && <p class="template-preview">{fillTemplate(t.text, params)}</p>}
          <button type="submit" class="primary" disabled={!complete || sending}>
            Send template
          </button>
        </>
      )}
    </form>
  );
}

export async function retry(m: Message): Promise<void> {
  const c = store.conversation(String(m.conversation_id));
  const original = keyOf(m.id);
  if (c && original) {
    await send(c, original.body as { content: Record<string, unknown> }, original.key);
    return;
  }
  // Sent from another tab or tool: the daemon's retry resends that row.
  try {
    store.addOwnMessage(await store.api!.json<Message>('POST', `/api/v1/conversations/${m.conversation_id}/messages/${m.id}/retry`));
  } catch (e) {
    const stored = e instanceof ApiError ? e.body?.error?.stored_message : undefined;
    if (stored) store.addOwnMessage(stored);
    store.say(`Not sent: ${(e as Error).message}`);
  }
}

function kindOf(mime: string): string {
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'document';
}

function Composer({ c }: { c: Conversation }) {
  const s = useStore();
  const [text, setText] = useState('');
  const [note, setNote] = useState(false);
  const [canned, setCanned] = useState<CannedReply[]>([]);
  const [pick, setPick] = useState(0);
  const [uploads, setUploads] = useState(false);
  const [notes, setNotes] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [sending, setSending] = useState(false);
  const typingSent = useRef(0);
  const typingOff = useRef(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const limit = note ? NOTE_LIMIT : TEXT_LIMITS[store.pluginOf(c.channel_id) ?? ''] ?? 4096;
  const length = Array.from(text).length;
  const [refused, setRefused] = useState(refusedWindow.has(c.id));
  const messages = s.conv?.id === c.id ? s.conv.messages : [];
  const closed = windowClosed(store.pluginOf(c.channel_id), messages, Date.now(), refused);
  const templates = (store.channels.find((ch) => ch.id === c.channel_id)?.templates ?? []) as Template[];
  useEffect(() => setRefused(refusedWindow.has(c.id)), [c.id]);
  // The customer wrote again: the window is open, whatever the platform said before.
  const lastIn = lastCustomerMessage(messages);
  useEffect(() => {
    if (!lastIn || !refusedWindow.has(c.id) || windowClosed(store.pluginOf(c.channel_id), messages, Date.now())) return;
    refusedWindow.delete(c.id);
    setRefused(false);
  }, [lastIn?.id]);

  useEffect(() => {
    void supports('/api/v1/uploads').then(setUploads);
    void supports(`/api/v1/conversations/${c.id}/notes`).then(setNotes);
  }, [c.id]);

  // /shortcode: the matching canned replies, rendered for this conversation.
  useEffect(() => {
    const m = /^\/([a-z0-9_-]*)$/i.exec(text);
    if (!m || !s.features.canned) {
      setCanned([]);
      return;
    }
    const t = setTimeout(async () => {
      const page = await s.api!.optional<{ items: CannedReply[] }>(`/api/v1/canned-replies${query({ prefix: m[1].toLowerCase(), conversation_id: c.id })}`).catch(() => null);
      setCanned(page?.items ?? []);
      setPick(0);
    }, 150);
    return () => clearTimeout(t);
  }, [text, c.id, s.features.canned]);

  const typing = () => {
    if (note || typingOff.current || Date.now() - typingSent.current < 5000) return;
    typingSent.current = Date.now();
    s.api!.json('POST', `/api/v1/conversations/${c.id}/typing`, { state: 'on' }).catch((e) => {
      if (e instanceof ApiError && e.status === 422) typingOff.current = true; // the channel cannot show typing
    });
  };

  const submit = async () => {
    const value = text.trim();
    if (!value || length > limit || sending) return;
    setSending(true);
    if (note) {
      try {
        const m = await s.api!.json<Message>('POST', `/api/v1/conversations/${c.id}/notes`, { text: value });
        s.addOwnMessage({ ...m, kind: 'note' });
        setText('');
      } catch (e) {
        s.say(`Note not saved: ${(e as Error).message}`);
      }
    } else {
      setText('');
      if ((await send(c, { content: { type: 'text', text: value } })) === 'window_closed') {
        refusedWindow.add(c.id);
        setRefused(true);
      }
    }
    setSending(false);
  };

  const attach = async (file: File) => {
    if (file.size > UPLOAD_LIMIT) return s.say(`${file.name} is larger than the ${UPLOAD_LIMIT / 1024 / 1024} MiB limit.`);
    try {
      const res = await s.api!.raw('POST', '/api/v1/uploads', {
        body: file,
        headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-File-Name': encodeURIComponent(file.name) },
      });
      const up = await res.json();
      const content: Record<string, unknown> = { type: kindOf(up.mime_type ?? file.type), upload_id: up.id };
      if (text.trim()) content.caption = text.trim();
      setText('');
      await send(c, { content });
    } catch (e) {
      s.say(`Upload failed: ${(e as Error).message}`);
    }
  };

  const choose = (r: CannedReply) => {
    setText(r.rendered ?? r.text);
    setCanned([]);
  };

  if (closed && !note)
    return (
      <>
        <TemplateForm c={c} templates={templates} />
        {notes && (
          <div class="composer-bar">
            <button type="button" class="toggle" aria-pressed={false} onClick={() => setNote(true)}>
              Write a private note
            </button>
          </div>
        )}
      </>
    );

  return (
    <form
      class={`composer${note ? ' note-mode' : ''}${dragging ? ' dragging' : ''}`}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
      onDragOver={(e) => {
        if (!uploads) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        setDragging(false);
        if (!uploads) return;
        e.preventDefault();
        const f = e.dataTransfer?.files?.[0];
        if (f) void attach(f);
      }}
    >
      {canned.length > 0 && (
        <ul class="canned" role="listbox" aria-label="Canned replies">
          {canned.map((r, i) => (
            <li key={r.id} role="option" aria-selected={i === pick} class={i === pick ? 'active' : ''} onMouseDown={(e) => { e.preventDefault(); choose(r); }}>
              <strong>/{r.shortcode}</strong> {r.rendered ?? r.text}
            </li>
          ))}
        </ul>
      )}
      <label class="sr-only" for="composer-text">{note ? 'Private note' : 'Reply'}</label>
      <textarea
        id="composer-text"
        value={text}
        rows={3}
        placeholder={note ? 'Private note — only your team sees it (@name mentions)' : 'Reply… (Enter sends, Shift+Enter new line, /shortcode)'}
        onInput={(e) => {
          setText((e.target as HTMLTextAreaElement).value);
          typing();
        }}
        onPaste={(e) => {
          const f = e.clipboardData?.files?.[0];
          if (f && uploads) {
            e.preventDefault();
            void attach(f);
          }
        }}
        onKeyDown={(e) => {
          if (canned.length > 0 && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
            e.preventDefault();
            setPick((p) => (p + (e.key === 'ArrowDown' ? 1 : canned.length - 1)) % canned.length);
            return;
          }
          if (canned.length > 0 && (e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey) {
            e.preventDefault();
            choose(canned[pick]);
            return;
          }
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void submit();
          }
          if (e.key === 'Escape') (e.target as HTMLElement).blur();
        }}
      />
      <div class="composer-bar">
        {notes && (
          <button type="button" class="toggle" aria-pressed={note} onClick={() => setNote(!note)}>
            {note ? 'Note mode (private)' : 'Reply mode'}
          </button>
        )}
        {uploads && !note && (
          <>
            <button type="button" onClick={() => fileInput.current?.click()}>Attach file</button>
            <input ref={fileInput} type="file" class="sr-only" aria-label="Attach a file" tabIndex={-1} onChange={(e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (f) void attach(f);
              (e.target as HTMLInputElement).value = '';
            }} />
          </>
        )}
        <span class={`length${length > limit ? ' over' : ''}`} aria-live="polite">
          {length} / {limit}
        </span>
        <button type="submit" class="primary" disabled={!text.trim() || length > limit || sending}>
          {note ? 'Add note' : 'Send'}
        </button>
      </div>
    </form>
  );
}

function snoozePresets(now = new Date()): { label: string; at: Date }[] {
  const inHours = (h: number) => new Date(now.getTime() + h * 3_600_000);
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  const nextWeek = new Date(tomorrow);
  nextWeek.setDate(tomorrow.getDate() + ((8 - tomorrow.getDay()) % 7 || 7) - 1);
  return [
    { label: 'in 1 hour', at: inHours(1) },
    { label: 'in 4 hours', at: inHours(4) },
    { label: 'tomorrow 9:00', at: tomorrow },
    { label: 'next Monday 9:00', at: nextWeek },
  ];
}

function Actions({ c }: { c: Conversation }) {
  const s = useStore();
  const me = s.me!;
  const who = assigneeId(c);
  const [snoozeAt, setSnoozeAt] = useState('');
  const [unread, setUnread] = useState(false);
  useEffect(() => {
    void supports(`/api/v1/conversations/${c.id}/unread`).then(setUnread);
  }, [c.id]);

  const act = async (f: () => Promise<Conversation>) => {
    try {
      s.updated(await f());
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.body?.error?.assignee_id) {
        s.say(`Already taken by ${s.agentName(e.body.error.assignee_id) ?? 'a colleague'}.`);
        const known = s.conversation(c.id);
        if (known) s.updated({ ...known, assignee_id: e.body.error.assignee_id, assignee: null });
      } else if (e instanceof ApiError && e.status === 404) s.lost(c.id);
      else s.say((e as Error).message);
    }
  };
  const assign = (agentId: string | null) => act(() => s.api!.json('POST', `/api/v1/conversations/${c.id}/assignment`, { agent_id: agentId }));
  const patch = (body: Record<string, unknown>) => act(() => s.api!.json('PATCH', `/api/v1/conversations/${c.id}`, body));
  const label = (name: string, add: boolean) =>
    act(() => (add ? s.api!.json('POST', `/api/v1/conversations/${c.id}/labels`, { name }) : s.api!.json('DELETE', `/api/v1/conversations/${c.id}/labels/${encodeURIComponent(name)}`)));
  const snooze = (at: Date) => patch({ status: 'snoozed', snoozed_until: at.toISOString() });

  return (
    <div class="actions" role="toolbar" aria-label="Conversation actions">
      {who === null && <button class="primary" onClick={() => assign(me.id)}>Take</button>}
      {who === me.id && <button onClick={() => assign(null)}>Hand back</button>}
      {me.role === 'admin' && s.agents.length > 0 && (
        <label>
          Assignee{' '}
          <select value={who ?? ''} onChange={(e) => assign((e.target as HTMLSelectElement).value || null)}>
            <option value="">Unassigned</option>
            {s.agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}{a.presence ? ` (${a.presence})` : ''}
              </option>
            ))}
          </select>
        </label>
      )}
      {c.status === 'resolved' ? (
        <button onClick={() => patch({ status: 'open' })}>Reopen</button>
      ) : (
        <button onClick={() => patch({ status: 'resolved' })}>Resolve</button>
      )}
      {c.priority !== undefined && (
        <>
          {c.status !== 'pending' && <button onClick={() => patch({ status: 'pending' })}>Pending</button>}
          <label>
            Snooze{' '}
            <select aria-label="Snooze for" value="" onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              if (v) void snooze(new Date(v));
            }}>
              <option value="">…</option>
              {snoozePresets().map((p) => (
                <option key={p.label} value={p.at.toISOString()}>{p.label}</option>
              ))}
            </select>
          </label>
          <label>
            until <input type="datetime-local" value={snoozeAt} onChange={(e) => setSnoozeAt((e.target as HTMLInputElement).value)} />
          </label>
          <button disabled={!snoozeAt} onClick={() => snooze(new Date(snoozeAt))}>Snooze</button>
          <label>
            Priority{' '}
            <select value={c.priority} onChange={(e) => patch({ priority: (e.target as HTMLSelectElement).value })}>
              {['none', 'low', 'medium', 'high', 'urgent'].map((p) => (
                <option key={p} value={p}>{p}</option>
              ))}
            </select>
          </label>
        </>
      )}
      {s.features.labels && (
        <span class="labels">
          {(c.labels ?? []).map((l) => (
            <span key={l} class="label">
              {l} <button aria-label={`Remove label ${l}`} onClick={() => label(l, false)}>×</button>
            </span>
          ))}
          <select aria-label="Add a label" value="" onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value;
            if (v) void label(v, true);
          }}>
            <option value="">+ label</option>
            {s.labels.filter((l) => !(c.labels ?? []).includes(l.name)).map((l) => (
              <option key={l.name} value={l.name}>{l.name}</option>
            ))}
          </select>
        </span>
      )}
      {unread && <button onClick={() => s.markUnread(c.id)}>Mark unread</button>}
    </div>
  );
}

export function ConversationView({ id, onClose }: { id: string; onClose: () => void }) {
  const s = useStore();
  const c = s.conversation(id);
  const conv = s.conv;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !(e.target as HTMLElement).closest('textarea, input, select, [role=dialog]')) onClose();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [onClose]);

  if (!c || !conv || conv.id !== id)
    return (
      <section class="pane conversation" aria-label="Conversation">
        <p class="empty">{conv?.error ? `Could not open it: ${conv.error}` : 'Loading…'}</p>
      </section>
    );
  return (
    <>
      <section class="pane conversation" aria-label={`Conversation with ${contactName(c)}`}>
        <header class="conv-head">
          <button class="back" onClick={onClose} aria-label="Back to the inbox">←</button>
          <h1>{contactName(c)}</h1>
          <span class="status-pill">{c.status}</span>
          <a class="phone-only" href={`#/c/${c.id}/contact`}>Contact details</a>
        </header>
        <Actions c={c} />
        {conv.error && <p class="error" role="alert">{conv.error}</p>}
        {conv.older && <p class="older">{conv.loading ? 'Loading older messages…' : 'Scroll up for older messages'}</p>}
        <History messages={conv.messages} onNearTop={() => void s.loadOlder()} onRetry={(m) => void retry(m)} />
        {conv.typing && <p class="typing" aria-live="polite">{contactName(c)} is typing…</p>}
        <Composer c={c} />
      </section>
      <ContactPanel c={c} />
    </>
  );
}
