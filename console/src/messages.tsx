// One message on screen (every content kind, notes, statuses), media fetched with the token
// (fetch → blob URL, never a URL with the token in it), and the virtualized history list.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { store } from './store';
import { formatBytes, formatTime, RichText } from './text';
import type { Media, Message } from './types';

// --- media ---

const blobCache = new Map<string, Promise<string>>();

function mediaBlob(url: string): Promise<string> {
  let p = blobCache.get(url);
  if (!p) {
    p = store.api!.raw('GET', url).then(async (res) => URL.createObjectURL(await res.blob()));
    p.catch(() => blobCache.delete(url));
    blobCache.set(url, p);
  }
  return p;
}

function useBlob(url: string | undefined): { src: string | null; error: string | null } {
  const [state, setState] = useState<{ src: string | null; error: string | null }>({ src: null, error: null });
  useEffect(() => {
    if (!url) return;
    let live = true;
    mediaBlob(url).then(
      (src) => live && setState({ src, error: null }),
      (e) => live && setState({ src: null, error: (e as Error).message }),
    );
    return () => {
      live = false;
    };
  }, [url]);
  return state;
}

function ImageView({ media, alt }: { media: Media; alt: string }) {
  const { src, error } = useBlob(media.url);
  const [big, setBig] = useState(false);
  if (error) return <span class="media-note">Image unavailable: {error}</span>;
  if (!src) return <span class="media-note">Loading image…</span>;
  return (
    <>
      <button class="image-button" onClick={() => setBig(true)} aria-label="Enlarge image">
        <img src={src} alt={alt} class="thumb" />
      </button>
      {big && (
        <div class="lightbox" role="dialog" aria-modal="true" aria-label="Image" onClick={() => setBig(false)} onKeyDown={(e) => e.key === 'Escape' && setBig(false)}>
          <img src={src} alt={alt} />
          <button autoFocus onClick={() => setBig(false)}>Close</button>
        </div>
      )}
    </>
  );
}

function PlayerView({ media, video, label }: { media: Media; video: boolean; label: string }) {
  const { src, error } = useBlob(media.url);
  if (error) return <span class="media-note">Media unavailable: {error}</span>;
  if (!src) return <span class="media-note">Loading…</span>;
  return video ? <video controls preload="metadata" src={src} class="thumb" aria-label={label} /> : <audio controls preload="metadata" src={src} aria-label={label} />;
}

function DocumentView({ media }: { media: Media }) {
  const [busy, setBusy] = useState(false);
  const name = media.file_name || 'document';
  const download = async () => {
    setBusy(true);
    try {
      const src = await mediaBlob(media.url!);
      const a = document.createElement('a');
      a.href = src;
      a.download = name; // a DOM property: the name is never parsed as markup
      a.rel = 'noopener';
      a.click();
    } catch (e) {
      store.say(`Download failed: ${(e as Error).message}`);
    }
    setBusy(false);
  };
  return (
    <button class="doc" onClick={download} disabled={busy}>
      ⬇ {name} {formatBytes(media.size)}
    </button>
  );
}

function MediaView({ m }: { m: Message }) {
  const c = m.content;
  const media = c.media;
  const kind = c.type;
  if (!media || (!media.state && !media.url)) return <span class="media-note">[{kind}]</span>;
  if (media.state === 'pending') return <span class="media-note">[{kind}: downloading…]</span>;
  if (media.state === 'failed' || !media.url) return <span class="media-note">[{kind} unavailable{media.error ? `: ${media.error}` : ''}]</span>;
  if (kind === 'image' || kind === 'sticker') return <ImageView media={media} alt={c.caption || c.emoji || kind} />;
  if (kind === 'audio' || kind === 'voice') return <PlayerView media={media} video={false} label={kind === 'voice' ? 'voice note' : 'audio'} />;
  if (kind === 'video') return <PlayerView media={media} video label="video" />;
  return <DocumentView media={media} />;
}

function Body({ m }: { m: Message }): ComponentChildren {
  const c = m.content;
  if (m.deleted_at) return <em class="deleted">This message was deleted.</em>;
  switch (c.type) {
    case 'text':
      return <RichText text={c.text ?? ''} />;
    case 'image':
    case 'sticker':
    case 'audio':
    case 'voice':
    case 'video':
    case 'document':
      return (
        <>
          <MediaView m={m} />
          {c.caption && (
            <p class="caption">
              <RichText text={c.caption} />
            </p>
          )}
        </>
      );
    case 'location': {
      const lat = Number(c.latitude);
      const lon = Number(c.longitude);
      return (
        <span>
          📍 {c.name ? `${c.name} ` : ''}
          {lat.toFixed(5)}, {lon.toFixed(5)}{' '}
          <a href={`https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`} target="_blank" rel="noopener noreferrer">
            map
          </a>
          {c.address && <span class="address"> {c.address}</span>}
        </span>
      );
    }
    case 'contact': {
      const cards = list(c.contacts).length > 0 ? list(c.contacts) : [c];
      return (
        <span>
          {cards.map((card, i) => (
            <span key={i} class="card">👤 {str(card.name)} {card.phone ? `· ${str(card.phone)}` : ''}</span>
          ))}
        </span>
      );
    }
    case 'interactive':
      return <span>Tapped: {c.title || String(c.reply_id ?? '')}{c.description ? ` — ${str(c.description)}` : ''}</span>;
    case 'poll':
      return (
        <span>
          📊 {str(c.question)}
          <ul class="options">
            {list(c.options).map((o, i) => (
              <li key={i}>{str(o.text)}{typeof o.voter_count === 'number' ? ` (${o.voter_count})` : ''}</li>
            ))}
          </ul>
        </span>
      );
    case 'poll_answer': {
      const ids = Array.isArray(c.option_ids) ? (c.option_ids as number[]) : [];
      return <span>📊 {ids.length ? `Voted for option ${ids.map((i) => i + 1).join(', ')}` : 'Took the vote back'}</span>;
    }
    case 'dice':
      return <span>{str(c.emoji)} rolled {String(c.value ?? '')}</span>;
    case 'order':
      return (
        <span>
          🛒 Order{c.catalog_id ? ` from catalog ${str(c.catalog_id)}` : ''}
          <ul class="items">
            {list(c.items).map((item, i) => (
              <li key={i}>
                {String(item.quantity ?? '')} × {str(item.product_id)}
                {item.price !== undefined ? ` · ${String(item.price)} ${str(item.currency)}` : ''}
              </li>
            ))}
          </ul>
          {c.text && <RichText text={c.text} />}
        </span>
      );
    case 'form_reply': {
      const fields = c.fields && typeof c.fields === 'object' ? Object.entries(c.fields as Record<string, unknown>) : [];
      return (
        <span>
          📝 {str(c.body) || str(c.name) || 'Form answers'}
          <ul class="fields">
            {fields.map(([k, v]) => (
              <li key={k}><b>{k}</b>: {typeof v === 'string' ? v : JSON.stringify(v)}</li>
            ))}
          </ul>
        </span>
      );
    }
    case 'share':
    case 'story_mention': {
      const label = str(c.title) || (c.type === 'story_mention' ? 'Mentioned you in a story' : str(c.url) || 'Shared a post');
      return c.url ? <a href={str(c.url)} target="_blank" rel="noopener noreferrer">🔗 {label}</a> : <span>🔗 {label}</span>;
    }
    case 'deleted':
      return <em class="deleted">This message was deleted.</em>;
    case 'unsupported':
      return <em>[{c.platform_type || 'unsupported'} — not shown here]</em>;
    default:
      return c.text ? <RichText text={c.text} /> : <em>[{c.type}]</em>;
  }
}

// Where the content came from, when the platform said: forwarded, an ad or link, a story.
function Context({ c }: { c: Message['content'] }) {
  const forwarded = c.forwarded as { from?: { name?: string; username?: string } } | undefined;
  const referral = c.referral as { headline?: string; source_url?: string; source_type?: string; ref?: string } | undefined;
  const story = c.story as { url?: string } | undefined;
  if (!forwarded && !referral && !story) return null;
  return (
    <p class="context">
      {forwarded && <span>↪ Forwarded{forwarded.from?.name ? ` from ${forwarded.from.name}` : ''}</span>}
      {referral && (
        <span>
          📣 From {referral.headline || referral.ref || referral.source_type || 'a link'}
          {referral.source_url && <> (<a href={referral.source_url} target="_blank" rel="noopener noreferrer">source</a>)</>}
        </span>
      )}
      {story && <span>💬 Replying to {story.url ? <a href={story.url} target="_blank" rel="noopener noreferrer">a story</a> : 'a story'}</span>}
    </p>
  );
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object') as Record<string, unknown>[]) : [];
}

const TICKS: Record<string, string> = { sending: '…', sent: '✓', delivered: '✓✓', read: '✓✓' };

function Status({ m, onRetry }: { m: Message; onRetry: (m: Message) => void }) {
  if (m.direction !== 'out' || m.kind === 'note') return null;
  if (m.status === 'failed')
    return (
      <span class="failed" role="status">
        Not sent: {m.error_message || m.error_code || 'the platform refused it'}{' '}
        <button onClick={() => onRetry(m)}>Retry</button>
      </span>
    );
  if (m.status === 'unknown')
    return (
      <span class="unknown" role="status">
        Delivery unknown — check with the customer before sending again.{' '}
        <button onClick={() => onRetry(m)}>Send again</button>
      </span>
    );
  const tick = TICKS[m.status];
  return tick ? <span class={`tick tick-${m.status}`} aria-label={m.status} title={m.status}>{tick}</span> : <span class="tick">{m.status}</span>;
}

export function MessageView({ m, quoted, onRetry }: { m: Message; quoted?: Message; onRetry: (m: Message) => void }) {
  const note = m.kind === 'note';
  if (m.kind === 'system')
    // Something that happened, which nobody wrote: a line in the history, not a bubble.
    return (
      <article class="msg system" data-message={m.id} aria-label="notice">
        <span class="body">{m.sender?.name ? `${m.sender.name} ` : ''}{str(m.content.text) || `[${str(m.content.code)}]`}</span>{' '}
        <time dateTime={m.created_at}>{formatTime(m.created_at)}</time>
      </article>
    );
  const cls = note ? 'msg note' : m.direction === 'in' ? 'msg in' : 'msg out';
  return (
    <article class={cls} data-message={m.id} aria-label={note ? 'private note' : m.direction === 'in' ? 'customer message' : 'agent message'}>
      <header>
        <span class="sender">{note ? `Note · ${m.sender?.name ?? ''}` : m.sender?.name ?? (m.direction === 'in' ? 'Customer' : 'Agent')}</span>
        <time dateTime={m.created_at}>{formatTime(m.created_at)}</time>
        {m.edited_at && <span class="edited">(edited)</span>}
      </header>
      {quoted && (
        <blockquote class="quote">
          {quoted.content.text ?? quoted.content.caption ?? `[${quoted.content.type}]`}
        </blockquote>
      )}
      <Context c={m.content} />
      <div class="body">
        <Body m={m} />
      </div>
      <footer>
        {(m.reactions ?? []).map((r, i) => (
          <span key={i} class="reaction" role="img" aria-label={`reaction ${r.emoji}${r.sender?.name ? ` from ${r.sender.name}` : ''}`} title={r.sender?.name}>{r.emoji}</span>
        ))}
        <Status m={m} onRetry={onRetry} />
      </footer>
    </article>
  );
}

// --- the virtualized history ---

const ESTIMATE = 72; // px, until a message has been measured
const OVERSCAN = 800; // px rendered above and below the viewport

// Renders only the messages near the viewport: spacer, the visible slice, spacer. Heights are
// measured after each render; the scroll position is held on the message at the top when older
// messages are prepended, and at the bottom when the reader was there.
export function History({ messages, onNearTop, onRetry }: { messages: Message[]; onNearTop: () => void; onRetry: (m: Message) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [, rerender] = useState(0);
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  const atBottom = useRef(true);
  const first = useRef<string | null>(null);

  const offsets = new Array<number>(messages.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < messages.length; i++) offsets[i + 1] = offsets[i] + (heights.current.get(messages[i].id) ?? ESTIMATE);
  const total = offsets[messages.length];

  const find = (y: number) => {
    let lo = 0;
    let hi = messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid + 1] <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const start = find(Math.max(0, scroll.top - OVERSCAN));
  const end = Math.min(messages.length, find(scroll.top + scroll.height + OVERSCAN) + 1);

  const byPlatformId = new Map<string, Message>();
  for (const m of messages) if (m.platform_id) byPlatformId.set(m.platform_id, m);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    // Measure what is rendered; a height change above the viewport shifts the scroll by as much.
    let changed = false;
    let shift = 0;
    const topIndex = find(el.scrollTop);
    for (const node of Array.from(el.querySelectorAll<HTMLElement>('[data-index]'))) {
      const i = Number(node.dataset.index);
      const id = messages[i]?.id;
      if (!id) continue;
      const h = node.offsetHeight;
      const old = heights.current.get(id) ?? ESTIMATE;
      if (h !== old) {
        heights.current.set(id, h);
        changed = true;
        if (i < topIndex) shift += h - old;
      }
    }
    // Older messages prepended: keep the message that was first where it was.
    const prevFirst = first.current;
    first.current = messages[0]?.id ?? null;
    if (prevFirst && messages[0]?.id !== prevFirst && !atBottom.current) {
      const k = messages.findIndex((m) => m.id === prevFirst);
      if (k > 0) {
        let added = 0;
        for (let i = 0; i < k; i++) added += heights.current.get(messages[i].id) ?? ESTIMATE;
        shift += added;
      }
    }
    if (atBottom.current) el.scrollTop = el.scrollHeight;
    else if (shift) el.scrollTop += shift;
    if (changed) rerender((n) => n + 1);
  });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setScroll({ top: el.scrollTop, height: el.clientHeight }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const onScroll = () => {
    const el = box.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    setScroll({ top: el.scrollTop, height: el.clientHeight });
    if (el.scrollTop < 400) onNearTop();
  };

  return (
    <div class="history" ref={box} onScroll={onScroll} tabIndex={0} aria-label="Message history" role="log" aria-live="polite">
      <div style={{ height: `${offsets[start]}px` }} aria-hidden="true" />
      {messages.slice(start, end).map((m, j) => (
        <div key={m.id} data-index={start + j} class="slot">
          <MessageView m={m} quoted={m.reply_to ? byPlatformId.get(m.reply_to) : undefined} onRetry={onRetry} />
        </div>
      ))}
      <div style={{ height: `${total - offsets[end]}px` }} aria-hidden="true" />
    </div>
  );
}
