// The inbox: tabs (mine / unassigned / all) with counts, filters (status, channel, label,
// priority) and a search box, and the list with infinite scroll and j/k/Enter navigation.

import { useEffect, useRef, useState } from 'preact/hooks';
import { assigneeId } from './state';
import { useStore } from './store';
import { formatTime } from './text';
import type { Conversation, Tab } from './types';

const TABS: { id: Tab; label: string }[] = [
  { id: 'mine', label: 'Mine' },
  { id: 'unassigned', label: 'Unassigned' },
  { id: 'all', label: 'All' },
];

const STATUSES = [
  { id: 'open', label: 'Open' },
  { id: 'pending', label: 'Pending' },
  { id: 'snoozed', label: 'Snoozed' },
  { id: 'resolved', label: 'Resolved' },
  { id: '', label: 'Any status' },
];

const PRIORITIES = [
  { id: '', label: 'Any priority' },
  { id: 'urgent', label: 'Urgent' },
  { id: 'high', label: 'High' },
  { id: 'medium', label: 'Medium' },
  { id: 'low', label: 'Low' },
  { id: 'none', label: 'None' },
];

// How long the search box waits for typing to pause before it asks the daemon.
const SEARCH_DELAY_MS = 300;

export function channelIcon(channelId: string, plugin?: string): string {
  const p = plugin ?? channelId;
  if (/telegram|tg/.test(p)) return 'TG';
  if (/whatsapp|wa/.test(p)) return 'WA';
  if (/messenger|fb/.test(p)) return 'FB';
  if (/instagram|ig/.test(p)) return 'IG';
  return 'API';
}

export function contactName(c: Conversation): string {
  return c.contact?.display_name || c.contact?.name || c.title || c.contact?.username || c.platform_id || `Conversation ${c.id}`;
}

function Row({ c, selected, focused, onOpen }: { c: Conversation; selected: boolean; focused: boolean; onOpen: () => void }) {
  const s = useStore();
  const plugin = s.pluginOf(c.channel_id);
  const who = assigneeId(c);
  const assignee = who ? c.assignee?.name ?? s.agentName(who) ?? `agent ${who}` : null;
  const unread = c.unread_count ?? 0;
  const preview = c.last_message?.preview ?? '';
  return (
    <li
      class={`row${selected ? ' selected' : ''}${unread ? ' unread' : ''}`}
      tabIndex={focused ? 0 : -1}
      role="option"
      aria-selected={selected}
      data-conversation={c.id}
      onClick={onOpen}
      onKeyDown={(e) => {
        if (e.key === 'Enter') onOpen();
      }}
    >
      <span class="chan" title={c.channel_id} aria-label={`channel ${c.channel_id}`}>{channelIcon(c.channel_id, plugin)}</span>
      <span class="row-main">
        <span class="row-top">
          <span class="name">{contactName(c)}</span>
          <time class="time" dateTime={c.last_activity_at}>{formatTime(c.last_message?.created_at ?? c.last_activity_at)}</time>
        </span>
        <span class="preview">
          {c.last_message?.direction === 'out' ? 'You: ' : ''}
          {preview || (c.last_message?.kind && c.last_message.kind !== 'text' ? `[${c.last_message.kind}]` : '')}
        </span>
        <span class="row-meta">
          {c.status !== 'open' && <span class={`status status-${c.status}`}>{c.status}</span>}
          {c.priority && c.priority !== 'none' && <span class={`prio prio-${c.priority}`}>{c.priority}</span>}
          {(c.labels ?? []).map((l) => (
            <span key={l} class="label">{l}</span>
          ))}
          <span class="assignee">{assignee ? `→ ${assignee}` : 'unassigned'}</span>
        </span>
      </span>
      {unread > 0 && (
        <span class="badge" aria-label={`${unread} unread`}>
          {unread}
        </span>
      )}
    </li>
  );
}

function FilterSelect(p: { name: string; value: string; options: { id: string; label: string }[]; onChange: (value: string) => void }) {
  return (
    <label>
      {p.name}{' '}
      <select value={p.value} onChange={(e) => p.onChange((e.target as HTMLSelectElement).value)}>
        {p.options.map((o) => (
          <option key={o.id} value={o.id}>{o.label}</option>
        ))}
      </select>
    </label>
  );
}

export function Inbox({ onOpen }: { onOpen: (id: string) => void }) {
  const s = useStore();
  const f = s.inbox.filter;
  const items = s.inbox.items;
  // The remembered row is a conversation, not a position: rows reorder as messages arrive.
  const [focusId, setFocusId] = useState<string | null>(null);
  const focus = Math.max(0, items.findIndex((c) => c.id === focusId));
  const listRef = useRef<HTMLUListElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const [search, setSearch] = useState(f.q ?? '');

  useEffect(() => {
    const q = search.trim();
    if (q === (f.q ?? '')) return;
    // Enter may have asked already: the timer then has nothing to do.
    const t = window.setTimeout(() => q !== (s.inbox.filter.q ?? '') && s.setFilter({ q }), SEARCH_DELAY_MS);
    return () => clearTimeout(t);
  }, [search]);

  // Infinite scroll: the next page when the end of the list comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void s.loadMore();
    });
    io.observe(el);
    return () => io.disconnect();
  }, [sentinel.current, s.cursor]);

  // j / k move, Enter opens (on the focused row), anywhere outside a text field.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest('input, textarea, select, [contenteditable]') || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 'j' || e.key === 'k') {
        e.preventDefault();
        const rows = listRef.current?.querySelectorAll<HTMLElement>('li.row');
        if (!rows || rows.length === 0) return;
        const current = Array.prototype.indexOf.call(rows, document.activeElement);
        // The first key press lands on the remembered row; the next ones move.
        const next = current < 0 ? Math.min(focus, rows.length - 1) : Math.max(0, Math.min(rows.length - 1, current + (e.key === 'j' ? 1 : -1)));
        setFocusId(items[next]?.id ?? null);
        rows[next].focus();
        rows[next].scrollIntoView({ block: 'nearest' });
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [items, focus]);

  const count = (tab: Tab) => {
    // The counts do not follow a search (the daemon counts by filters only): none while one is on.
    const c = f.q ? undefined : s.counts?.[tab];
    if (!c) return null;
    return f.status ? f.status.split(',').reduce((n, st) => n + (c[st] ?? 0), 0) : Object.values(c).reduce((a, b) => a + b, 0);
  };

  return (
    <section class="pane inbox" aria-label="Inbox">
      <div class="tabs" role="tablist" aria-label="Queues">
        {TABS.map((t) => {
          const n = count(t.id);
          return (
            <button key={t.id} role="tab" aria-selected={f.tab === t.id} class={f.tab === t.id ? 'active' : ''} onClick={() => s.setFilter({ tab: t.id })}>
              {t.label}
              {n !== null && <span class="count" aria-label={`${n} conversations`}>{n}</span>}
            </button>
          );
        })}
      </div>
      <div class="filters">
        <FilterSelect name="Status" value={f.status} options={STATUSES} onChange={(status) => s.setFilter({ status })} />
        <FilterSelect
          name="Channel"
          value={f.channel ?? ''}
          options={[{ id: '', label: 'Any channel' }, ...s.channels.map((ch) => ({ id: ch.id, label: ch.id }))]}
          onChange={(channel) => s.setFilter({ channel })}
        />
        {s.features.labels && (
          <FilterSelect
            name="Label"
            value={f.label ?? ''}
            options={[{ id: '', label: 'Any label' }, ...s.labels.map((l) => ({ id: l.name, label: l.name }))]}
            onChange={(label) => s.setFilter({ label })}
          />
        )}
        <FilterSelect name="Priority" value={f.priority ?? ''} options={PRIORITIES} onChange={(priority) => s.setFilter({ priority })} />
        <input
          type="search"
          class="search"
          aria-label="Search conversations"
          placeholder="Search name, phone, messages…"
          value={search}
          onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => { if (e.key === 'Enter') s.setFilter({ q: search.trim() }); }}
        />
      </div>
      {s.listError && <p class="error" role="alert">Could not load conversations: {s.listError}</p>}
      <ul class="list" role="listbox" aria-label="Conversations" ref={listRef}>
        {items.map((c, i) => (
          <Row key={c.id} c={c} selected={s.inbox.open === c.id} focused={i === focus} onOpen={() => { setFocusId(c.id); onOpen(c.id); }} />
        ))}
      </ul>
      {items.length === 0 && !s.listLoading && <p class="empty">{f.q ? `No conversation matches “${f.q}”.` : 'No conversations here.'}</p>}
      <div ref={sentinel} class="sentinel" aria-live="polite">{s.listLoading ? 'Loading…' : ''}</div>
    </section>
  );
}
