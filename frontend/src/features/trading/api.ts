import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api";

export type Account = Schemas["AccountOut"];
export type AccountDetail = Schemas["AccountDetail"];
export type Order = Schemas["OrderOut"];
export type OrderRequest = Schemas["OrderRequest"];
export type Position = Schemas["PositionOut"];

const path = (id: string) => ({ path: { account_id: id } });

export function useAccounts() {
  return useQuery({
    queryKey: ["accounts"],
    queryFn: () => unwrap(api.GET("/api/v1/accounts", { params: { query: { limit: 100 } } })),
  });
}

export function useAccount(id: string | null) {
  return useQuery({
    queryKey: ["accounts", id],
    enabled: Boolean(id),
    refetchInterval: 15_000,
    queryFn: () => unwrap(api.GET("/api/v1/accounts/{account_id}", { params: path(id ?? "") })),
  });
}

export function useOpenOrders(id: string | null) {
  return useQuery({
    queryKey: ["accounts", id, "orders", "open"],
    enabled: Boolean(id),
    refetchInterval: 10_000,
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/accounts/{account_id}/orders", {
          params: { ...path(id ?? ""), query: { status: "open", limit: 100 } },
        }),
      ),
  });
}

export function useActivities(id: string | null) {
  return useQuery({
    queryKey: ["accounts", id, "activities"],
    enabled: Boolean(id),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/accounts/{account_id}/activities", {
          params: { ...path(id ?? ""), query: { limit: 50, direction: "desc" } },
        }),
      ),
  });
}

export function useEquityHistory(id: string | null, period: string) {
  return useQuery({
    queryKey: ["accounts", id, "history", period],
    enabled: Boolean(id),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/accounts/{account_id}/history", { params: { ...path(id ?? ""), query: { period } } }),
      ),
  });
}

export function usePerformance(id: string | null, period: string) {
  return useQuery({
    queryKey: ["accounts", id, "performance", period],
    enabled: Boolean(id),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/accounts/{account_id}/performance", { params: { ...path(id ?? ""), query: { period } } }),
      ),
  });
}

function useAccountMutation<T, R>(fn: (vars: T) => Promise<R>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["accounts"] }),
  });
}

export function useCreateAccount() {
  return useAccountMutation((body: { name: string; starting_cash: string }) =>
    unwrap(api.POST("/api/v1/accounts", { body })),
  );
}

export function useMoveCash(id: string) {
  return useAccountMutation(({ kind, amount }: { kind: "deposit" | "withdrawal"; amount: string }) => {
    const body = { amount, idempotency_key: crypto.randomUUID(), memo: null };
    return unwrap(
      kind === "deposit"
        ? api.POST("/api/v1/accounts/{account_id}/deposits", { params: path(id), body })
        : api.POST("/api/v1/accounts/{account_id}/withdrawals", { params: path(id), body }),
    );
  });
}

export function usePlaceOrder(id: string) {
  return useAccountMutation((order: OrderRequest) =>
    unwrap(api.POST("/api/v1/accounts/{account_id}/orders", { params: path(id), body: order })),
  );
}

export function useCancelOrder(id: string) {
  return useAccountMutation((orderId: string) =>
    unwrap(
      api.DELETE("/api/v1/accounts/{account_id}/orders/{order_id}", {
        params: { path: { account_id: id, order_id: orderId } },
      }),
    ),
  );
}
