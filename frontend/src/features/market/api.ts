import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api";
import { quoteFromValue, type LiveQuote } from "./live";

/** The engine's latest stored quote (a stale or missing one is queued for refresh). */
export function useStoredQuote(symbol: string, enabled = true) {
  return useQuery({
    queryKey: ["market", "quote", symbol],
    enabled,
    staleTime: 60_000,
    queryFn: async (): Promise<LiveQuote | null> => {
      const data = await unwrap(
        api.GET("/api/v1/market/data/{symbol}", { params: { path: { symbol }, query: { types: ["quote"] } } }),
      );
      const value = data.values.find((v) => v.data_type === "quote");
      if (!value || value.value === null || value.value === undefined) return null;
      return quoteFromValue(symbol, value.value, value.source ?? null, value.as_of ?? null);
    },
  });
}

export function useQuoteHistory(symbol: string) {
  return useQuery({
    queryKey: ["market", "history", symbol],
    staleTime: 60_000,
    queryFn: () =>
      unwrap(api.GET("/api/v1/market/history/{symbol}", { params: { path: { symbol } } })),
  });
}

export function useMarketStatus(enabled: boolean) {
  return useQuery({
    queryKey: ["market", "status"],
    enabled,
    refetchInterval: 10_000,
    queryFn: () => unwrap(api.GET("/api/v1/market/status")),
  });
}

export function useProvidersHealth(enabled: boolean) {
  return useQuery({
    queryKey: ["health", "providers"],
    enabled,
    refetchInterval: 15_000,
    queryFn: () => unwrap(api.GET("/health/providers")),
  });
}

/** The data types the engine knows (their TTLs, flags, providers). */
export function useDataTypes(enabled = true) {
  return useQuery({
    queryKey: ["market", "data-types"],
    enabled,
    staleTime: 60_000,
    queryFn: () => unwrap(api.GET("/api/v1/market/data-types")),
  });
}

/** The engine's latest values of these data types for a symbol (a stale one is queued). */
export function useMarketValues(symbol: string, types: string[]) {
  return useQuery({
    queryKey: ["market", "data", symbol, types],
    enabled: types.length > 0,
    staleTime: 60_000,
    queryFn: () =>
      unwrap(api.GET("/api/v1/market/data/{symbol}", { params: { path: { symbol }, query: { types } } })),
  });
}

export type DataType = Schemas["DataTypeOut"];

/** Change a data type's TTL, priority or switch (admins; audited by the server). */
export function useUpdateDataType() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ name, ...body }: { name: string; ttl_seconds?: number; enabled?: boolean }) =>
      unwrap(api.PATCH("/api/v1/market/data-types/{name}", { params: { path: { name } }, body })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["market", "data-types"] }),
  });
}

export function useSwitchEngine() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (enabled: boolean) => unwrap(api.PUT("/api/v1/market/engine", { body: { enabled } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["market"] }),
  });
}
