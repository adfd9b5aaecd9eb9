/**
 * The one typed API client, generated from the app's OpenAPI schema (`npm run gen:api`).
 * It adds the bearer token, refreshes it once on a 401 and retries, and turns an error envelope
 * into an `ApiError` whose message a person can read.
 */
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import {
  accessTokenFresh,
  clearTokens,
  getAccessToken,
  getRefreshToken,
  refreshAccessToken,
} from "./session";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>[];
  readonly retryAfter: number | null;

  constructor(
    message: string,
    status: number,
    code: string,
    details: Record<string, unknown>[] = [],
    retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

const AUTH_FREE = ["/api/v1/auth/login", "/api/v1/auth/signup", "/api/v1/auth/refresh"];

function withBearer(request: Request, token: string | null): Request {
  const next = new Request(request);
  if (token) next.headers.set("Authorization", `Bearer ${token}`);
  return next;
}

/** fetch with the session's token; one refresh and retry when the server says 401. */
export function createAuthFetch(base: typeof fetch = globalThis.fetch.bind(globalThis)) {
  return async function authFetch(input: Request): Promise<Response> {
    const path = new URL(input.url, "http://x").pathname;
    if (AUTH_FREE.includes(path)) return base(input);
    if (!accessTokenFresh() && getRefreshToken()) await refreshAccessToken(base);
    const retry = input.clone();
    const sent = getAccessToken();
    const response = await base(withBearer(input, sent));
    if (response.status !== 401 || !getRefreshToken()) return response;
    // Another request may have refreshed meanwhile: use its token rather than spend another.
    const current = getAccessToken();
    const token = current && current !== sent ? current : await refreshAccessToken(base);
    if (!token) {
      clearTokens();
      return response;
    }
    return base(withBearer(retry, token));
  };
}

export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "http://localhost",
  fetch: (request: Request) => createAuthFetch()(request),
});

interface EnvelopeLike<T> {
  success?: boolean;
  data?: T | null;
  message?: string;
  metadata?: Record<string, unknown>;
  error?: { code: string; details?: Record<string, unknown>[] } | null;
}

interface FetchResult<T> {
  data?: EnvelopeLike<T>;
  error?: unknown;
  response: Response;
}

/** The envelope's `data`, or an ApiError carrying the envelope's message and code. */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data && data.data !== undefined && data.data !== null) return data.data;
  if (response.ok && data) return data.data as T;
  throw toApiError(error, response);
}

export function toApiError(error: unknown, response: Response): ApiError {
  const body = (error ?? {}) as EnvelopeLike<unknown> & { detail?: unknown };
  const retry = Number(response.headers.get("Retry-After"));
  const message =
    body.message ||
    (response.status === 429
      ? "Too many requests; wait a moment and try again"
      : response.status >= 500
        ? "The server could not answer; try again"
        : `Request failed (${response.status})`);
  return new ApiError(
    message,
    response.status,
    body.error?.code ?? `http_${response.status}`,
    body.error?.details ?? [],
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
}

/** A readable sentence for any error a query or mutation may throw. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.details
      .map((d) => [d.field, d.reason ?? d.message].filter(Boolean).join(": "))
      .filter(Boolean);
    return fields.length ? `${error.message} (${fields.join("; ")})` : error.message;
  }
  if (error instanceof TypeError) return "Cannot reach the server; check your connection";
  return error instanceof Error ? error.message : String(error);
}
