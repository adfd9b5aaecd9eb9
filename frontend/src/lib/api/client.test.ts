import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, createAuthFetch, describeError, unwrap } from "./client";
import * as session from "./session";

const pair = (n: number) => ({
  access_token: `access-${n}`,
  refresh_token: `refresh-${n}`,
  token_type: "bearer" as const,
  expires_in: 900,
  expires_at: "2099-01-01T00:00:00Z",
  refresh_expires_at: "2099-01-01T00:00:00Z",
});

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("the API client's session handling", () => {
  beforeEach(() => {
    localStorage.clear();
    session.clearTokens();
  });
  afterEach(() => vi.restoreAllMocks());

  it("sends the bearer token, refreshes once on a 401 (rotating the refresh token) and retries", async () => {
    session.setTokens(pair(1));
    const seen: string[] = [];
    let refreshes = 0;
    const server = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(String(input), init);
      const path = new URL(request.url).pathname;
      if (path === "/api/v1/auth/refresh") {
        refreshes += 1;
        const body = (await request.json()) as { refresh_token: string };
        expect(body.refresh_token).toBe("refresh-1");
        return json(200, { success: true, data: pair(2) });
      }
      seen.push(request.headers.get("Authorization") ?? "");
      return request.headers.get("Authorization") === "Bearer access-2"
        ? json(200, { success: true, data: { ok: true } })
        : json(401, { success: false, message: "expired", error: { code: "unauthorized" } });
    });
    const authFetch = createAuthFetch(server as unknown as typeof fetch);
    const [a, b] = await Promise.all([
      authFetch(new Request("http://x/api/v1/universes")),
      authFetch(new Request("http://x/api/v1/accounts")),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(refreshes).toBe(1); // two 401s, one refresh: a spent refresh token is never sent again
    expect(seen.filter((h) => h === "Bearer access-1")).toHaveLength(2);
    expect(session.getAccessToken()).toBe("access-2");
    expect(session.getRefreshToken()).toBe("refresh-2");
  });

  it("signs out when the refresh token is refused", async () => {
    session.setTokens(pair(1));
    const changes: boolean[] = [];
    const off = session.onSessionChange((signedIn) => changes.push(signedIn));
    const server = vi.fn(async (input: RequestInfo | URL) => {
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      return path === "/api/v1/auth/refresh"
        ? json(401, { success: false, message: "spent", error: { code: "invalid_refresh_token" } })
        : json(401, { success: false, message: "expired", error: { code: "unauthorized" } });
    });
    const response = await createAuthFetch(server as unknown as typeof fetch)(new Request("http://x/api/v1/auth/me"));
    off();
    expect(response.status).toBe(401);
    expect(session.getRefreshToken()).toBeNull();
    expect(session.getAccessToken()).toBeNull();
    expect(changes).toEqual([false]);
  });

  it("signs this tab out when another tab logs out", () => {
    session.setTokens(pair(1));
    const changes: boolean[] = [];
    const off = session.onSessionChange((signedIn) => changes.push(signedIn));
    localStorage.removeItem("quantdesk.refresh");
    window.dispatchEvent(new StorageEvent("storage", { key: "quantdesk.refresh", newValue: null }));
    off();
    expect(changes).toEqual([false]);
    expect(session.getAccessToken()).toBeNull();
  });

  it("leaves login and signup alone", async () => {
    session.setTokens(pair(1));
    const server = vi.fn(async () => json(401, { success: false, message: "Wrong email or password" }));
    const response = await createAuthFetch(server as unknown as typeof fetch)(
      new Request("http://x/api/v1/auth/login", { method: "POST" }),
    );
    expect(response.status).toBe(401);
    expect(server).toHaveBeenCalledTimes(1);
    expect(session.getRefreshToken()).toBe("refresh-1");
  });
});

describe("envelopes", () => {
  it("unwraps data and turns an error envelope into a readable ApiError", async () => {
    await expect(unwrap(Promise.resolve({ data: { success: true, data: 42 }, response: new Response(null, { status: 200 }) }))).resolves.toBe(42);
    const failure = unwrap(
      Promise.resolve({
        error: {
          success: false,
          message: "Invalid input: qty",
          error: { code: "validation_error", details: [{ field: "qty", reason: "must be above 0" }] },
        },
        response: new Response(null, { status: 422 }),
      }),
    );
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    const error: unknown = await failure.catch((e: unknown) => e);
    expect((error as ApiError).code).toBe("validation_error");
    expect(describeError(error)).toBe("Invalid input: qty (qty: must be above 0)");
  });

  it("explains a rate limit with its wait", async () => {
    const error: unknown = await unwrap(
      Promise.resolve({ error: {}, response: new Response(null, { status: 429, headers: { "Retry-After": "12" } }) }),
    ).catch((e: unknown) => e as ApiError);
    expect((error as ApiError).retryAfter).toBe(12);
    expect(describeError(error)).toMatch(/Too many requests/);
  });
});
