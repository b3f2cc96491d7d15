// The contact panel beside the open conversation: the person behind it (profile and custom
// attributes, editable), their identities on each channel, their other conversations, and for
// admins the contacts that may be the same person (merge, unmerge).

import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api';
import { channelIcon, contactName } from './inbox';
import { assigneeId } from './state';
import { type OpenContact, run, store, useStore } from './store';
import { formatTime } from './text';
import type { AttributeDef, AttributeType, Conversation, Person } from './types';

const FIELDS = [
  ['name', 'Name'],
  ['email', 'E-mail'],
  ['phone', 'Phone'],
  ['company', 'Company'],
  ['notes', 'Notes'],
] as const;

// The attributes to show: every defined one, then values whose definition an admin deleted
// (they stay until cleared, docs/api.md).
function attributeRows(p: Person, defs: AttributeDef[]): AttributeDef[] {
  const rows = defs.slice();
  for (const key of Object.keys(p.attributes ?? {})) if (!defs.some((d) => d.key === key)) rows.push({ key, type: 'string', label: `${key} (no longer defined)` });
  return rows;
}

function shown(type: AttributeType, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (type === 'boolean' || typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

// What an input holds for a value; a date input takes YYYY-MM-DD.
function asInput(type: AttributeType, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (type === 'boolean') return v ? 'true' : 'false';
  if (type === 'date' && typeof v === 'string') return v.slice(0, 10);
  return String(v);
}

// The value sent for an input: "" clears (null); a number that does not parse goes as typed,
// so the daemon's rule (one rule, the daemon's) says why it is refused.
function fromInput(type: AttributeType, raw: string): unknown {
  if (raw === '') return null;
  if (type === 'boolean') return raw === 'true';
  if (type === 'number') {
    const n = Number(raw.replace(',', '.'));
    return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  }
  return raw;
}

type Draft = Record<string, string>;

function draftOf(p: Person, rows: AttributeDef[]): Draft {
  const d: Draft = {};
  for (const [k] of FIELDS) d[k] = p[k] ?? '';
  for (const a of rows) d[`attr:${a.key}`] = asInput(a.type, p.attributes?.[a.key]);
  return d;
}

// Only what the agent changed is sent: a value set meanwhile by a colleague stays.
function changeOf(initial: Draft, draft: Draft, rows: AttributeDef[]): Record<string, unknown> {
  const change: Record<string, unknown> = {};
  for (const [k] of FIELDS) if (draft[k] !== initial[k]) change[k] = draft[k];
  const attributes: Record<string, unknown> = {};
  for (const a of rows) {
    const k = `attr:${a.key}`;
    if (draft[k] !== initial[k]) attributes[a.key] = fromInput(a.type, draft[k]);
  }
  if (Object.keys(attributes).length > 0) change.attributes = attributes;
  return change;
}

function AttributeInput({ def, value, onInput }: { def: AttributeDef; value: string; onInput: (v: string) => void }) {
  const label = def.label || def.key;
  const set = (e: Event) => onInput((e.target as HTMLInputElement | HTMLSelectElement).value);
  if (def.type === 'boolean')
    return (
      <label>{label}{' '}
        <select value={value} onChange={set}>
          <option value="">—</option>
          <option value="true">yes</option>
          <option value="false">no</option>
        </select>
      </label>
    );
  if (def.type === 'date') return <label>{label} <input type="date" value={value} onInput={set} /></label>;
  return <label>{label} <input inputMode={def.type === 'number' ? 'decimal' : undefined} value={value} onInput={set} /></label>;
}

function Profile({ p }: { p: Person }) {
  const s = useStore();
  const rows = attributeRows(p, s.attributes);
  const [edit, setEdit] = useState<{ initial: Draft; draft: Draft } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    setEdit(null);
    setError(null);
  }, [p.id]);

  if (!edit) {
    const attrs = rows.filter((a) => p.attributes?.[a.key] !== undefined && p.attributes?.[a.key] !== null);
    return (
      <section aria-label="Profile">
        <dl>
          {FIELDS.map(([k, label]) =>
            p[k] ? (
              <Fragment key={k}>
                <dt>{label}</dt>
                <dd class={k === 'notes' ? 'notes-text' : undefined}>{k === 'email' ? <a href={`mailto:${p.email}`}>{p.email}</a> : p[k]}</dd>
              </Fragment>
            ) : null,
          )}
          {attrs.map((a) => (
            <Fragment key={`attr:${a.key}`}>
              <dt>{a.label || a.key}</dt>
              <dd>{shown(a.type, p.attributes[a.key])}</dd>
            </Fragment>
          ))}
        </dl>
        <button onClick={() => { const d = draftOf(p, rows); setEdit({ initial: d, draft: { ...d } }); }}>Edit contact</button>
      </section>
    );
  }

  const set = (k: string, v: string) => setEdit({ ...edit, draft: { ...edit.draft, [k]: v } });
  const save = async () => {
    const change = changeOf(edit.initial, edit.draft, rows);
    if (Object.keys(change).length === 0) return setEdit(null);
    setSaving(true);
    try {
      await s.saveContact(p.id, change);
      setEdit(null);
      setError(null);
    } catch (e) {
      // 400: the daemon says which value it refused; the draft stays to be corrected.
      setError(e instanceof ApiError ? e.message : (e as Error).message);
    }
    setSaving(false);
  };
  return (
    <form class="contact-form" aria-label="Edit contact" noValidate onSubmit={(e) => { e.preventDefault(); void save(); }}>
      {FIELDS.map(([k, label]) =>
        k === 'notes' ? (
          <label key={k}>{label} <textarea rows={4} value={edit.draft[k]} onInput={(e) => set(k, (e.target as HTMLTextAreaElement).value)} /></label>
        ) : (
          <label key={k}>{label} <input type={k === 'email' ? 'email' : k === 'phone' ? 'tel' : 'text'} value={edit.draft[k]} onInput={(e) => set(k, (e.target as HTMLInputElement).value)} /></label>
        ),
      )}
      {rows.map((a) => (
        <AttributeInput key={a.key} def={a} value={edit.draft[`attr:${a.key}`]} onInput={(v) => set(`attr:${a.key}`, v)} />
      ))}
      {error && <p class="error" role="alert">{error}</p>}
      <span class="form-actions">
        <button class="primary" type="submit" disabled={saving}>Save</button>
        <button type="button" onClick={() => { setEdit(null); setError(null); }}>Cancel</button>
      </span>
    </form>
  );
}

function Identities({ p }: { p: Person }) {
  return (
    <section aria-label="Identities">
      <h3>On each channel</h3>
      <ul class="plain">
        {p.identities.map((i) => (
          <li key={i.id} data-identity={i.id}>
            <span class="chan inline" aria-hidden="true">{channelIcon(i.channel_id, store.pluginOf(i.channel_id))}</span> {i.channel_id}:{' '}
            {i.name || i.username || i.platform_id}
            {i.username && <span class="muted"> @{i.username}</span>}
            {i.phone && <span class="muted"> · {i.phone}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Others({ k }: { k: OpenContact }) {
  const total = Math.max(0, (k.person?.conversation_ids?.length ?? 1) - 1);
  return (
    <section aria-label="Other conversations">
      <h3>Other conversations</h3>
      {k.others.length === 0 ? (
        <p class="muted">None</p>
      ) : (
        <ul class="plain others">
          {k.others.map((o) => (
            <li key={o.id}>
              <a href={`#/c/${o.id}`}>
                {channelIcon(o.channel_id, store.pluginOf(o.channel_id))} {o.channel_id} · {o.status} · <time dateTime={o.last_activity_at}>{formatTime(o.last_activity_at)}</time>
              </a>
              {o.last_message?.preview && <span class="preview">{o.last_message.preview}</span>}
            </li>
          ))}
        </ul>
      )}
      {total > k.others.length && <p class="muted">and {total - k.others.length} more</p>}
    </section>
  );
}

function channelsOf(p: Person): string {
  return [...new Set(p.identities.map((i) => i.channel_id))].join(', ');
}

// Admins: the contacts that may be this person, found by phone number or by a search.
function Merging({ p }: { p: Person }) {
  const s = useStore();
  const k = s.contact!;
  const [q, setQ] = useState('');
  const [found, setFound] = useState<Person[] | null>(null);
  useEffect(() => {
    setQ('');
    setFound(null);
  }, [p.id]);
  const merge = (other: Person) => {
    if (confirm(`Merge ${other.display_name} into ${p.display_name}? Their identities and conversations move here; Unmerge gives them back.`))
      void run(async () => {
        await s.mergeContact(p.id, other.id);
        setFound(null);
        s.say(`${other.display_name} merged into ${p.display_name}.`);
      });
  };
  const search = () =>
    void run(async () => {
      const page = await s.api!.get<{ items: Person[] }>(`/api/v1/contacts?limit=10&q=${encodeURIComponent(q)}`);
      setFound(page.items.filter((x) => x.id !== p.id));
    });
  const candidate = (other: Person, why?: string) => (
    <li key={other.id} data-contact={other.id}>
      {other.display_name} <span class="muted">({channelsOf(other)}{why ? `; ${why}` : ''})</span>{' '}
      <button onClick={() => merge(other)} aria-label={`Merge ${other.display_name} into this contact`}>Merge</button>
    </li>
  );
  return (
    <section aria-label="Merge contacts">
      <h3>Same person?</h3>
      {k.suggestions.length > 0 && <ul class="plain">{k.suggestions.map((x) => candidate(x.person, x.phone ? `same phone ${x.phone}` : 'same phone'))}</ul>}
      <form role="search" aria-label="Find a contact to merge" onSubmit={(e) => { e.preventDefault(); if (q.trim()) search(); }}>
        <input type="search" aria-label="Find a contact to merge" placeholder="Find a contact…" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </form>
      {found && (found.length === 0 ? <p class="muted">No other contact matches.</p> : <ul class="plain">{found.map((x) => candidate(x))}</ul>)}
      {(p.merged ?? []).length > 0 && (
        <>
          <h3>Merged into this contact</h3>
          <ul class="plain">
            {p.merged!.map((m) => (
              <li key={m.id}>
                {m.display_name || `Contact ${m.id}`}{' '}
                <button onClick={() => void run(() => s.unmergeContact(m.id, p.id))} aria-label={`Unmerge ${m.display_name || `contact ${m.id}`}`}>Unmerge</button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function ContactPanel({ c }: { c: Conversation }) {
  const s = useStore();
  const contactId = c.contact?.id;
  useEffect(() => {
    if (contactId) void s.loadContact(contactId, c.id);
  }, [contactId, c.id]);
  const k = contactId && s.contact?.id === contactId ? s.contact : null;
  const p = k?.person ?? null;
  const who = assigneeId(c);
  return (
    <aside class="pane contact" aria-label="Contact">
      <a class="phone-only" href={`#/c/${c.id}`}>← Back to the conversation</a>
      <h2>{p?.display_name || contactName(c)}</h2>
      {k?.error && <p class="error" role="alert">{k.error}</p>}
      {!p && k?.loading && <p class="muted">Loading the contact…</p>}
      {p && <Profile p={p} />}
      <h3>This conversation</h3>
      <dl>
        {c.contact?.username && (<><dt>Username</dt><dd>@{c.contact.username}</dd></>)}
        {c.contact?.phone && (<><dt>Phone on the channel</dt><dd>{c.contact.phone}</dd></>)}
        <dt>Channel</dt>
        <dd>{channelIcon(c.channel_id, store.pluginOf(c.channel_id))} {c.channel_id}</dd>
        <dt>Platform id</dt>
        <dd>{c.contact?.platform_id ?? c.platform_id}</dd>
        <dt>Status</dt>
        <dd>{c.status}{c.snoozed_until ? ` until ${new Date(c.snoozed_until).toLocaleString()}` : ''}</dd>
        {c.blocked_at && (<><dt>Blocked</dt><dd role="status">since {formatTime(c.blocked_at)}: replies are refused until the customer unblocks the channel</dd></>)}
        <dt>Assignee</dt>
        <dd>{who ? s.agentName(who) ?? c.assignee?.name ?? who : 'nobody'}</dd>
        <dt>Since</dt>
        <dd>{formatTime(c.created_at)}</dd>
      </dl>
      {p && <Identities p={p} />}
      {p && k && <Others k={k} />}
      {p && s.me?.role === 'admin' && <Merging p={p} />}
    </aside>
  );
}
