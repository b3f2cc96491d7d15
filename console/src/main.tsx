// The console's shell: sign-in, the header (connection state, presence, notifications), and a
// hash router: #/inbox, #/c/<id>, #/c/<id>/contact (the contact pane on a phone), #/admin/<page>.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ADMIN_PAGES } from './admin';
import { ApiError } from './api';
import { ConversationView } from './conversation';
import { Inbox } from './inbox';
import { store, useStore } from './store';
import './styles.css';

function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean);
}

function SignIn() {
  const [token, setToken] = useState('');
  const [base, setBase] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await store.signIn({ token: token.trim(), base: base.trim() });
      if (!location.hash) location.hash = '#/inbox';
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : (err as Error).message);
    }
    setBusy(false);
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Switchboard</h1>
        <p>Sign in with your agent token. It is kept for this tab only.</p>
        <label for="token">Token</label>
        <input id="token" type="password" autoComplete="off" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <details>
          <summary>Another server</summary>
          <label for="base">Daemon URL (when the console is served from elsewhere)</label>
          <input id="base" type="url" placeholder="https://switchboard.example.com" value={base} onInput={(e) => setBase((e.target as HTMLInputElement).value)} />
        </details>
        {error && <p class="error" role="alert">{error}</p>}
        <button class="primary" type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}

const LINK_TEXT: Record<string, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  signed_out: '',
};

function Presence() {
  const s = useStore();
  if (!s.me || s.me.availability === undefined) return null;
  const set = async (availability: string) => {
    try {
      s.me = await s.api!.json('PATCH', '/api/v1/me', { availability });
      s.emit();
    } catch (e) {
      s.say((e as Error).message);
    }
  };
  return (
    <label class="presence">
      <span class={`dot dot-${s.me.availability}`} aria-hidden="true" /> Availability{' '}
      <select value={s.me.availability} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        <option value="online">online</option>
        <option value="busy">busy</option>
        <option value="offline">offline</option>
      </select>
    </label>
  );
}

function Header({ route }: { route: string[] }) {
  const s = useStore();
  const admin = s.me?.role === 'admin';
  return (
    <header class="top">
      <a class="brand" href="#/inbox">Switchboard</a>
      <nav aria-label="Main">
        <a href="#/inbox" aria-current={route[0] !== 'admin' ? 'page' : undefined}>Inbox</a>
        {admin && ADMIN_PAGES.map((p) => (
          <a key={p.id} href={`#/admin/${p.id}`} aria-current={route[0] === 'admin' && route[1] === p.id ? 'page' : undefined}>{p.label}</a>
        ))}
      </nav>
      <span class={`link link-${s.link}`} role="status" aria-live="polite" data-link={s.link}>{LINK_TEXT[s.link]}</span>
      <Presence />
      <label class="notify">
        <input type="checkbox" checked={s.notifications} onChange={(e) => void s.setNotifications((e.target as HTMLInputElement).checked)} /> Notifications
      </label>
      <label class="notify">
        <input type="checkbox" checked={s.sound} onChange={(e) => s.setSound((e.target as HTMLInputElement).checked)} /> Sound
      </label>
      <span class="who">{s.me?.name}</span>
      <button onClick={() => s.signOut()}>Sign out</button>
    </header>
  );
}

function App() {
  const s = useStore();
  const route = useRoute();
  const open = route[0] === 'c' ? route[1] : null;

  useEffect(() => {
    if (s.me && open && s.conv?.id !== open) void s.openConversation(open);
    if (s.me && !open && s.conv) s.closeConversation();
  }, [open, s.me]);

  if (!s.me) return s.link === 'signed_out' ? <SignIn /> : <p class="empty">Loading…</p>;

  const close = () => {
    location.hash = '#/inbox';
    // Back on the row it came from, unless the agent already moved on (j/k can land first).
    setTimeout(() => {
      if (document.activeElement && document.activeElement !== document.body) return;
      document.querySelector<HTMLElement>('.row.selected, .row[tabindex="0"]')?.focus();
    });
  };
  let main;
  if (route[0] === 'admin') {
    const page = ADMIN_PAGES.find((p) => p.id === route[1]) ?? ADMIN_PAGES[0];
    main = <page.view />;
  } else {
    main = (
      <>
        <Inbox onOpen={(id) => (location.hash = `#/c/${id}`)} />
        {open ? <ConversationView id={open} onClose={close} /> : <section class="pane conversation placeholder" aria-label="Conversation"><p class="empty">Choose a conversation (j / k, Enter).</p></section>}
      </>
    );
  }
  return (
    <div class="app" data-pane={route[0] === 'admin' ? 'admin' : open ? (route[2] === 'contact' ? 'contact' : 'conversation') : 'list'}>
      <a class="skip" href="#/inbox" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <Header route={route} />
      <main id="main" class="panes" tabIndex={-1}>{main}</main>
      {s.toast && <div class="toast" role="alert">{s.toast}</div>}
    </div>
  );
}

// Browsers let a page make sound only after a click or key press in it.
for (const type of ['pointerdown', 'keydown']) addEventListener(type, () => store.armSound(), { capture: true });

render(<App />, document.getElementById('app')!);
void store.restore();
