// One WebSocket per tab: resumes after the last seq this tab processed, reconnects with
// backoff, and says which state it is in (connecting / connected / reconnecting / offline).

import type { Api } from './api';
import { backoffMs, ResumePoint } from './state';
import type { Frame } from './types';

export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'signed_out';

export class Realtime {
  state: LinkState = 'connecting';
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;
  private lastFrameAt = 0;
  private watchdog: number | undefined;

  constructor(
    private api: Api,
    public resume: ResumePoint,
    private onFrame: (f: Frame) => void,
    private onState: (s: LinkState) => void,
    private onUnauthorized: () => void,
  ) {
    addEventListener('online', this.wake);
    addEventListener('offline', this.wentOffline);
    document.addEventListener('visibilitychange', this.wake);
  }

  start(): void {
    this.connect();
    // A laptop that slept has a socket that looks open and is dead: the server pings every
    // 25 s, so a minute of silence means reconnect (and resume).
    this.watchdog = window.setInterval(() => {
      if (this.ws && this.state === 'connected' && Date.now() - this.lastFrameAt > 60_000) this.ws.close();
      else if (this.ws && this.state === 'connected') this.send({ type: 'ping' });
    }, 20_000);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    removeEventListener('online', this.wake);
    removeEventListener('offline', this.wentOffline);
    document.removeEventListener('visibilitychange', this.wake);
    this.ws?.close(1000);
    this.ws = null;
  }

  send(frame: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private set(s: LinkState): void {
    this.state = s;
    this.onState(s);
  }

  private wake = (): void => {
    if (this.stopped || document.visibilityState === 'hidden') return;
    if (!this.ws && this.state !== 'connecting') {
      clearTimeout(this.timer);
      this.attempt = 0;
      this.connect();
    }
  };

  private wentOffline = (): void => {
    this.set('offline');
  };

  private connect(): void {
    if (this.stopped) return;
    this.set(this.attempt === 0 && this.state === 'connecting' ? 'connecting' : navigator.onLine === false ? 'offline' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.api.wsUrl(this.resume.last));
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.lastFrameAt = Date.now();
    };
    ws.onmessage = (ev) => {
      this.lastFrameAt = Date.now();
      let frame: Frame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (frame.type === 'hello') {
        this.attempt = 0;
        this.api.sessionId = frame.data?.session_id ?? null;
        this.resume.hello(frame.data?.last_seq);
        this.set('connected');
      }
      if (frame.type === 'resync_required') this.resume.resync(frame.data?.last_seq);
      else if (!this.resume.accept(frame)) return;
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.api.sessionId = null;
      if (this.stopped) return;
      // Refused before the upgrade (a revoked or expired token) shows as a close without open;
      // the caller checks the token over REST and signs out on 401.
      if (!opened || ev.code === 1008) this.onUnauthorized();
      this.retry();
    };
  }

  private retry(): void {
    if (this.stopped) return;
    this.set(navigator.onLine === false ? 'offline' : 'reconnecting');
    const delay = backoffMs(this.attempt++);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
