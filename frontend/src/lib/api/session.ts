/**
 * The login session: the access token lives in memory only; the refresh token (needed to survive
 * a reload) in localStorage. Refresh tokens rotate, so one refresh runs at a time (single flight):
 * sending a spent token again would sign the whole session out.
 */
import type { components } from "./schema";

export type TokenPair = components["schemas"]["TokenPair"];

const REFRESH_KEY = "quantdesk.refresh";

type Listener = (signedIn: boolean) => void;

let accessToken: string | null = null;
let accessExpiresAt = 0;
let accessLifetime = 0;
let refreshing: Promise<string | null> | null = null;
const listeners = new Set<Listener>();

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export function getAccessToken(): string | null {
  return accessToken;
}

export function getRefreshToken(): string | null {
  return storage()?.getItem(REFRESH_KEY) ?? null;
}

/** Whether the access token has a while left: refreshed 30 s (or a quarter of its life) early. */
export function accessTokenFresh(now = Date.now()): boolean {
  const margin = Math.min(30_000, accessLifetime / 4);
  return accessToken !== null && now < accessExpiresAt - margin;
}

export function setTokens(pair: TokenPair): void {
  accessToken = pair.access_token;
  accessLifetime = pair.expires_in * 1000;
  accessExpiresAt = Date.now() + accessLifetime;
  storage()?.setItem(REFRESH_KEY, pair.refresh_token);
  listeners.forEach((listener) => listener(true));
}

export function clearTokens(): void {
  const had = accessToken !== null || getRefreshToken() !== null;
  accessToken = null;
  accessExpiresAt = 0;
  accessLifetime = 0;
  storage()?.removeItem(REFRESH_KEY);
  if (had) listeners.forEach((listener) => listener(false));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Trade the refresh token for a new pair; null (and signed out) when it is refused. */
export function refreshAccessToken(
  fetcher: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<string | null> {
  if (refreshing) return refreshing;
  if (!getRefreshToken()) return Promise.resolve(null);
  refreshing = acrossTabs(async () => {
    // Read inside the lock: another tab may have rotated the token while this one waited.
    const token = getRefreshToken();
    if (!token) return null;
    try {
      const url = new URL("/api/v1/auth/refresh", globalThis.location?.origin ?? "http://localhost");
      const response = await fetcher(url.toString(), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!response.ok) {
        // 401: spent or revoked. Anything else (a 5xx, a 429): keep the token, try later.
        if (response.status === 401 || response.status === 422) clearTokens();
        return null;
      }
      const body = (await response.json()) as { data?: TokenPair | null };
      if (!body.data) return null;
      setTokens(body.data);
      return body.data.access_token;
    } catch {
      return null; // offline: keep the token
    }
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** Tabs share the refresh token: one refresh at a time across them (Web Locks), else this tab's. */
function acrossTabs<T>(work: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? (locks.request("quantdesk.refresh", work) as Promise<T>) : work();
}

// Logging out in another tab removes the shared refresh token: sign this tab out too.
globalThis.addEventListener?.("storage", (event: StorageEvent) => {
  if (event.key === REFRESH_KEY && event.newValue === null && accessToken !== null) {
    accessToken = null;
    accessExpiresAt = 0;
    listeners.forEach((listener) => listener(false));
  }
});
