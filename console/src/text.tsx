// Customer text is untrusted: it is rendered as text nodes only (never innerHTML), and links in
// it become <a> elements whose href is checked to be http(s) or mailto.

import type { ComponentChildren } from 'preact';

const LINK = /\b(https?:\/\/[^\s<>"']+|www\.[^\s<>"']+|mailto:[^\s<>"']+)/gi;

export function safeHref(raw: string): string | null {
  const candidate = raw.startsWith('www.') ? `https://${raw}` : raw;
  try {
    const u = new URL(candidate);
    return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'mailto:' ? u.href : null;
  } catch {
    return null;
  }
}

// Splits text into plain strings and link parts (trailing punctuation stays outside the link).
export function splitLinks(text: string): { text: string; href?: string }[] {
  const out: { text: string; href?: string }[] = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let link = match[0];
    const trail = /[.,;:!?)\]]+$/.exec(link);
    if (trail) link = link.slice(0, -trail[0].length);
    const start = match.index ?? 0;
    const href = safeHref(link);
    if (!href) continue;
    if (start > last) out.push({ text: text.slice(last, start) });
    out.push({ text: link, href });
    last = start + link.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

export function RichText({ text }: { text: string }): ComponentChildren {
  return (
    <>
      {splitLinks(text).map((p, i) =>
        p.href ? (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow">
            {p.text}
          </a>
        ) : (
          p.text
        ),
      )}
    </>
  );
}

export function formatTime(iso: string | undefined | null, now = Date.now()): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
