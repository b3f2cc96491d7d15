// The REST client: every request carries the tab's token in the Authorization header (never a
// cookie, never a URL), and every error comes back as an ApiError with the daemon's code.

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public body: any = null) {
    super(message);
  }
}

export interface Session {
  base: string; // "" = the page's own origin
  token: string;
}

const KEY = 'sb.session';

// The token lives in sessionStorage: this tab only, gone when the tab closes.
export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    return typeof s.token === 'string' ? { base: typeof s.base === 'string' ? s.base : '', token: s.token } : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.clear();
}

export class Api {
  sessionId: string | null = null; // from the hello frame: the daemon then skips our own echoes

  constructor(public session: Session) {}

  url(path: string): string {
    return this.session.base.replace(/\/$/, '') + path;
  }

  wsUrl(afterSeq: number | null): string {
    const base = this.session.base || location.origin;
    const u = new URL('/api/v1/ws', base.replace(/^http/, 'ws'));
    // Browsers cannot set headers on a WebSocket: the token goes in the query (docs/api.md).
    u.searchParams.set('access_token', this.session.token);
    if (afterSeq !== null) u.searchParams.set('after_seq', String(afterSeq));
    return u.toString();
  }

  async raw(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.session.token}`, ...init.headers };
    if (this.sessionId) headers['X-Switchboard-Session'] = this.sessionId;
    let res: Response;
    try {
      res = await fetch(this.url(path), { method, headers, body: init.body, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'network', 'the daemon cannot be reached');
    }
    if (!res.ok) {
      let body: any = null;
      try {
        body = await res.json();
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, body?.error?.code ?? `http_${res.status}`, body?.error?.message ?? res.statusText, body);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const init = body === undefined ? { headers } : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } };
    const res = await this.raw(method, path, init);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  // A feature of a newer daemon: its endpoint answers 404 (or 405) on an older one.
  async optional<T>(path: string): Promise<T | null> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 403)) return null;
      throw e;
    }
  }
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
