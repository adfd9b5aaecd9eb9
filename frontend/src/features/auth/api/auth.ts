import { api, unwrap, session, type Schemas } from "@/lib/api";

export type User = Schemas["UserOut"];

export async function login(email: string, password: string): Promise<void> {
  const pair = await unwrap(api.POST("/api/v1/auth/login", { body: { email, password } }));
  session.setTokens(pair);
}

export async function signup(
  email: string,
  password: string,
  displayName: string | null,
): Promise<void> {
  await unwrap(
    api.POST("/api/v1/auth/signup", {
      body: { email, password, display_name: displayName || null },
    }),
  );
  await login(email, password);
}

export async function logout(): Promise<void> {
  const refresh = session.getRefreshToken();
  try {
    if (refresh) await api.POST("/api/v1/auth/logout", { body: { refresh_token: refresh } });
  } finally {
    session.clearTokens();
  }
}

export function fetchMe(): Promise<User> {
  return unwrap(api.GET("/api/v1/auth/me"));
}
