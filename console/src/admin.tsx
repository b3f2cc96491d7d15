// Admin pages: agents and tokens, channels and their health, dead letters, labels, canned replies,
// contact attributes.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type CannedReply, type Label, run, store, useStore } from './store';
import { formatTime } from './text';
import type { Agent, AttributeDef, Page } from './types';

function useLoad<T>(path: string, optional = false): { data: T | null; missing: boolean; error: string | null; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; missing: boolean; error: string | null }>({ data: null, missing: false, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    const api = store.api!;
    (optional ? api.optional<T>(path) : api.get<T>(path)).then(
      (data) => setState({ data, missing: data === null, error: null }),
      (e) => setState({ data: null, missing: false, error: (e as Error).message }),
    );
  }, [path, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

function Page({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="pane admin" aria-label={title}>
      <h1>{title}</h1>
      {children}
    </section>
  );
}

function Agents() {
  const list = useLoad<Page<Agent>>('/api/v1/agents');
  const [name, setName] = useState('');
  const [role, setRole] = useState('agent');
  const [tokens, setTokens] = useState<{ agent_id: string; id: string; token: string; label: string }[]>([]);
  const create = () => run(() => store.api!.json('POST', '/api/v1/agents', { name, role }), () => { setName(''); list.reload(); });
  const token = (a: Agent) =>
    run(async () => {
      const t = await store.api!.json<any>('POST', `/api/v1/agents/${a.id}/tokens`, { label: 'console' });
      setTokens((x) => [...x, t]);
    });
  const revoke = (t: { agent_id: string; id: string }) =>
    run(() => store.api!.json('DELETE', `/api/v1/agents/${t.agent_id}/tokens/${t.id}`), () => setTokens((x) => x.filter((y) => y.id !== t.id)));
  const remove = (a: Agent) => {
    if (confirm(`Delete ${a.name}? Their tokens stop working and their conversations are unassigned.`))
      void run(() => store.api!.json('DELETE', `/api/v1/agents/${a.id}`), list.reload);
  };
  return (
    <Page title="Agents and tokens">
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <label>Name <input required maxLength={200} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
        <label>Role{' '}
          <select value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            <option value="agent">agent</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button class="primary" type="submit">Create agent</button>
      </form>
      {list.error && <p class="error" role="alert">{list.error}</p>}
      <table>
        <caption class="sr-only">Agents</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Presence</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {(list.data?.items ?? []).map((a) => (
            <tr key={a.id} data-agent={a.id}>
              <td>{a.name}</td>
              <td>{a.role}</td>
              <td>{a.presence ?? '—'}</td>
              <td>{formatTime(a.created_at)}</td>
              <td>
                {a.id !== 'admin' && <button onClick={() => token(a)}>New token</button>}{' '}
                {a.id !== 'admin' && <button class="danger" onClick={() => remove(a)}>Delete</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {tokens.length > 0 && (
        <>
          <h2>Tokens created now</h2>
          <p>Each token is shown only here: copy it to its agent now.</p>
          <ul class="tokens">
            {tokens.map((t) => (
              <li key={t.id}>
                <label>Token for agent {t.agent_id} <input readOnly value={t.token} class="token" onFocus={(e) => (e.target as HTMLInputElement).select()} /></label>{' '}
                <button class="danger" onClick={() => revoke(t)}>Revoke</button>
              </li>
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}

function Channels() {
  const s = useStore();
  const [ready, setReady] = useState<any>(null);
  useEffect(() => {
    fetch(s.api!.url('/readyz'), { cache: 'no-store' }).then((r) => r.json()).then(setReady, () => setReady(null));
  }, []);
  return (
    <Page title="Channels">
      <p>Daemon: {ready ? `${ready.status}, store ${ready.store}` : 'unknown'}</p>
      <table>
        <caption class="sr-only">Channels</caption>
        <thead><tr><th scope="col">Channel</th><th scope="col">Plugin</th><th scope="col">Receive</th><th scope="col">State</th><th scope="col">Reason</th></tr></thead>
        <tbody>
          {s.channels.map((c: any) => (
            <tr key={c.id}>
              <td>{c.id}</td>
              <td>{c.plugin}</td>
              <td>{c.receive}</td>
              <td class={`state-${c.state}`}>{ready?.channels?.[c.id] ?? c.state}</td>
              <td>{c.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

function DeadLetters() {
  const list = useLoad<{ items: any[] }>('/api/v1/dead-letters?limit=100');
  return (
    <Page title="Dead letters">
      {list.error && <p class="error" role="alert">{list.error}</p>}
      {list.data?.items.length === 0 && <p>No dead letters.</p>}
      <table>
        <caption class="sr-only">Dead letters</caption>
        <thead><tr><th scope="col">Channel</th><th scope="col">Reason</th><th scope="col">Attempts</th><th scope="col">Failed</th><th scope="col">Body</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {(list.data?.items ?? []).map((d) => (
            <tr key={d.id}>
              <td>{d.channel_id}</td>
              <td>{d.reason}</td>
              <td>{d.attempts}</td>
              <td>{formatTime(d.failed_at)}</td>
              <td><code class="preview-code">{d.body_preview}</code> ({d.body_bytes} bytes)</td>
              <td><button onClick={() => run(() => store.api!.json('POST', `/api/v1/dead-letters/${d.id}/replay`), () => { store.say('Requeued.'); list.reload(); })}>Replay</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

function Labels() {
  const list = useLoad<Page<Label>>('/api/v1/labels', true);
  const [name, setName] = useState('');
  const [color, setColor] = useState('#3366cc');
  if (list.missing) return <Page title="Labels"><p>This daemon has no labels yet.</p></Page>;
  return (
    <Page title="Labels">
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void run(() => store.api!.json('POST', '/api/v1/labels', { name, color }), () => { setName(''); list.reload(); void store.loadDirectory(); }); }}>
        <label>Name <input required pattern="[A-Za-z0-9_\-]{1,50}" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
        <label>Color <input type="color" value={color} onInput={(e) => setColor((e.target as HTMLInputElement).value)} /></label>
        <button class="primary" type="submit">Add label</button>
      </form>
      <ul class="plain">
        {(list.data?.items ?? []).map((l) => (
          <li key={l.name}>
            <span class="label">{l.name}</span> {l.description}{' '}
            <button class="danger" onClick={() => run(() => store.api!.json('DELETE', `/api/v1/labels/${encodeURIComponent(l.name)}`), list.reload)}>Delete</button>
          </li>
        ))}
      </ul>
    </Page>
  );
}

function Canned() {
  const list = useLoad<Page<CannedReply>>('/api/v1/canned-replies', true);
  const [shortcode, setShortcode] = useState('');
  const [text, setText] = useState('');
  const [scope, setScope] = useState('shared');
  if (list.missing) return <Page title="Canned replies"><p>This daemon has no canned replies yet.</p></Page>;
  return (
    <Page title="Canned replies">
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void run(() => store.api!.json('POST', '/api/v1/canned-replies', { shortcode, text, scope }), () => { setShortcode(''); setText(''); list.reload(); }); }}>
        <label>Shortcode <input required pattern="[a-z0-9_\-]{1,32}" value={shortcode} onInput={(e) => setShortcode((e.target as HTMLInputElement).value)} /></label>
        <label>Text <input required value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} /></label>
        <label>Scope{' '}
          <select value={scope} onChange={(e) => setScope((e.target as HTMLSelectElement).value)}>
            <option value="shared">shared</option>
            <option value="personal">personal</option>
          </select>
        </label>
        <button class="primary" type="submit">Add reply</button>
      </form>
      <ul class="plain">
        {(list.data?.items ?? []).map((r) => (
          <li key={r.id}>
            <strong>/{r.shortcode}</strong> ({r.scope}) {r.text}{' '}
            <button class="danger" onClick={() => run(() => store.api!.json('DELETE', `/api/v1/canned-replies/${r.id}`), list.reload)}>Delete</button>
          </li>
        ))}
      </ul>
    </Page>
  );
}

function ContactAttributes() {
  const list = useLoad<Page<AttributeDef>>('/api/v1/contact-attributes', true);
  const [key, setKey] = useState('');
  const [type, setType] = useState('string');
  const [label, setLabel] = useState('');
  const changed = () => {
    list.reload();
    void store.loadDirectory(); // the contact panel's fields
  };
  if (list.missing) return <Page title="Contact attributes"><p>This daemon has no contact attributes yet.</p></Page>;
  return (
    <Page title="Contact attributes">
      <p>Fields every contact can have, which agents fill in the contact panel.</p>
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void run(() => store.api!.json('POST', '/api/v1/contact-attributes', { key, type, ...(label ? { label } : {}) }), () => { setKey(''); setLabel(''); changed(); }); }}>
        <label>Key <input required pattern="[A-Za-z0-9_\-]{1,50}" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} /></label>
        <label>Type{' '}
          <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
            {['string', 'number', 'boolean', 'date'].map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label>Label <input maxLength={200} value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} /></label>
        <button class="primary" type="submit">Add attribute</button>
      </form>
      {list.error && <p class="error" role="alert">{list.error}</p>}
      {list.data?.items.length === 0 && <p>No attributes yet.</p>}
      <table>
        <caption class="sr-only">Contact attributes</caption>
        <thead><tr><th scope="col">Key</th><th scope="col">Type</th><th scope="col">Label</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {(list.data?.items ?? []).map((a) => (
            <tr key={a.key} data-attribute={a.key}>
              <td><code>{a.key}</code></td>
              <td>{a.type}</td>
              <td>{a.label}</td>
              <td>{formatTime(a.created_at)}</td>
              <td>
                <button class="danger" aria-label={`Delete ${a.key}`} onClick={() => {
                  if (confirm(`Delete the attribute ${a.key}? Values already set stay on contacts until cleared.`))
                    void run(() => store.api!.json('DELETE', `/api/v1/contact-attributes/${encodeURIComponent(a.key)}`), changed);
                }}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

export const ADMIN_PAGES: { id: string; label: string; view: () => ComponentChildren }[] = [
  { id: 'agents', label: 'Agents', view: Agents },
  { id: 'channels', label: 'Channels', view: Channels },
  { id: 'dead-letters', label: 'Dead letters', view: DeadLetters },
  { id: 'labels', label: 'Labels', view: Labels },
  { id: 'canned', label: 'Canned replies', view: Canned },
  { id: 'contact-attributes', label: 'Contact attributes', view: ContactAttributes },
];
