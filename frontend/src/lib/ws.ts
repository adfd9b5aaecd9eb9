/** WebSockets to the same server; browsers cannot set headers, so the token goes in `?token=`. */
import { getAccessToken, refreshAccessToken } from "./api/session";

export function socketUrl(path: string, token: string | null): string {
  const loc = globalThis.location;
  const scheme = loc?.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${loc?.host ?? "localhost"}${path}${query}`;
}

export const CLOSE_UNAUTHORIZED = 4401;

export interface LiveSocket {
  close(): void;
  send(message: unknown): void;
}

/**
 * A socket that reconnects (with backoff) until closed; after a 4401 it refreshes the token once.
 * `onOpen` runs on every (re)connection, so subscriptions are sent again.
 */
export function openLiveSocket(
  path: string,
  handlers: {
    onMessage: (message: Record<string, unknown>) => void;
    onOpen?: (socket: LiveSocket) => void;
    onClose?: (code: number) => boolean | void; // true: stop reconnecting
  },
): LiveSocket {
  let socket: WebSocket | null = null;
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const live: LiveSocket = {
    close() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000);
    },
    send(message) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
  };

  const connect = () => {
    if (stopped) return;
    socket = new WebSocket(socketUrl(path, getAccessToken()));
    socket.onopen = () => {
      attempt = 0;
      handlers.onOpen?.(live);
    };
    socket.onmessage = (event) => {
      try {
        handlers.onMessage(JSON.parse(String(event.data)) as Record<string, unknown>);
      } catch {
        /* not JSON: ignore */
      }
    };
    socket.onclose = (event) => {
      if (stopped || handlers.onClose?.(event.code) === true) return;
      attempt += 1;
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      if (event.code === CLOSE_UNAUTHORIZED) {
        void refreshAccessToken().then((token) => {
          if (token) timer = setTimeout(connect, 200);
        });
        return;
      }
      timer = setTimeout(connect, delay);
    };
  };
  connect();
  return live;
}
