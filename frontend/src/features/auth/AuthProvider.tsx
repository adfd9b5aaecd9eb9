import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { session } from "@/lib/api";
import { fetchMe, logout as apiLogout, type User } from "./api/auth";

interface AuthState {
  status: "loading" | "signed-in" | "signed-out";
  user: User | null;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [hasSession, setHasSession] = useState(() => session.getRefreshToken() !== null);

  useEffect(
    () =>
      session.onSessionChange((signedIn) => {
        setHasSession(signedIn);
        if (!signedIn) queryClient.clear();
      }),
    [queryClient],
  );

  // Refresh shortly before the access token expires, so requests rarely meet a 401.
  useEffect(() => {
    if (!hasSession) return;
    const id = setInterval(() => {
      if (!session.accessTokenFresh()) void session.refreshAccessToken();
    }, 5_000);
    return () => clearInterval(id);
  }, [hasSession]);

  const me = useQuery({
    queryKey: ["auth", "me"],
    queryFn: fetchMe,
    enabled: hasSession,
    staleTime: 5 * 60_000,
    retry: false,
  });

  const value = useMemo<AuthState>(() => {
    const status = !hasSession
      ? "signed-out"
      : me.data
        ? "signed-in"
        : me.isError
          ? "signed-out"
          : "loading";
    return {
      status,
      user: me.data ?? null,
      logout: async () => {
        await apiLogout();
        queryClient.clear();
      },
    };
  }, [hasSession, me.data, me.isError, queryClient]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
