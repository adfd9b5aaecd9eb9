import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api";
import { toApiError } from "@/lib/api/client";

export type Vault = Schemas["VaultOut"];
export type VaultCreate = Schemas["VaultCreate"];
export type VaultFile = Schemas["VaultFileOut"];
export type Plan = Schemas["PlanOut"];
export type PlanSummary = Schemas["PlanSummary"];
export type Move = Schemas["MoveOut"];
export type DuplicateReport = Schemas["DuplicateReport"];
export type FilePage = Schemas["Page_VaultFileOut_"];

const vaultPath = (vault_id: string) => ({ params: { path: { vault_id } } });

export function useVaults() {
  return useQuery({
    queryKey: ["vaults"],
    queryFn: () => unwrap(api.GET("/api/v1/vaults", { params: { query: { limit: 200 } } })),
  });
}

export function useVault(id: string) {
  return useQuery({
    queryKey: ["vaults", id],
    queryFn: () => unwrap(api.GET("/api/v1/vaults/{vault_id}", vaultPath(id))),
  });
}

export function useCreateVault() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: VaultCreate) => unwrap(api.POST("/api/v1/vaults", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["vaults"] }),
  });
}

export function useDeleteVault() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/vaults/{vault_id}", vaultPath(id))),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["vaults"] }),
  });
}

/** The categories the vault's rules can give a file, and `other` for the rest. */
export function useVaultCategories(id: string) {
  return useQuery({
    queryKey: ["vaults", id, "rules"],
    staleTime: 60_000,
    queryFn: async () => {
      const rules = await unwrap(api.GET("/api/v1/vaults/{vault_id}/rules", vaultPath(id)));
      return [...new Set([...rules.rules.map((r) => r.category), "other"])];
    },
  });
}

export interface FileFilters {
  category: string;
  q: string;
  symbol: string;
}

export const FILES_PAGE = 50;

/** The inventory, a page at a time (cursor pagination). */
export function useVaultFiles(id: string, filters: FileFilters) {
  const { category, q, symbol } = filters;
  return useInfiniteQuery({
    queryKey: ["vaults", id, "files", category, q, symbol],
    initialPageParam: null as string | null,
    placeholderData: keepPreviousData,
    getNextPageParam: (last: FilePage) => last.next_cursor ?? null,
    queryFn: ({ pageParam }): Promise<FilePage> =>
      unwrap(
        api.GET("/api/v1/vaults/{vault_id}/files", {
          params: {
            path: { vault_id: id },
            query: {
              limit: FILES_PAGE,
              ...(category ? { category } : {}),
              ...(q.trim() ? { q: q.trim() } : {}),
              ...(symbol.trim() ? { symbol: symbol.trim().toUpperCase() } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
        }),
      ),
  });
}

export function useUploadFile(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ path, file }: { path: string; file: Blob }) =>
      unwrap(
        api.PUT("/api/v1/vaults/{vault_id}/files/{path}", {
          params: { path: { vault_id: id, path } },
          body: file as unknown as string,
          bodySerializer: (body) => body as unknown as Blob,
          headers: { "Content-Type": "application/octet-stream" },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["vaults", id] }),
  });
}

/** A vault file, fetched with the session's token, saved by the browser. */
export async function downloadFile(vaultId: string, path: string): Promise<void> {
  const { data, error, response } = await api.GET("/api/v1/vaults/{vault_id}/files/{path}", {
    params: { path: { vault_id: vaultId, path } },
    parseAs: "blob",
  });
  if (!response.ok || !data) throw toApiError(error, response);
  const url = URL.createObjectURL(data as Blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = path.split("/").pop() || "file";
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Start a vault job (scan, duplicates, organise, clean-up, apply, rollback): its operation. */
export function useVaultJob(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (
      job:
        | { kind: "scan" }
        | { kind: "duplicates" }
        | { kind: "organize"; conflict: "skip" | "rename_new" }
        | { kind: "cleanup"; keep: "oldest" | "newest" | "shortest_path" }
        | { kind: "apply"; planId: string }
        | { kind: "rollback"; operationId: string },
    ) => {
      switch (job.kind) {
        case "scan":
          return unwrap(api.POST("/api/v1/vaults/{vault_id}/scan", vaultPath(id)));
        case "duplicates":
          return unwrap(api.POST("/api/v1/vaults/{vault_id}/duplicates", vaultPath(id)));
        case "organize":
          return unwrap(
            api.POST("/api/v1/vaults/{vault_id}/organize", { ...vaultPath(id), body: { conflict: job.conflict } }),
          );
        case "cleanup":
          return unwrap(
            api.POST("/api/v1/vaults/{vault_id}/duplicates/cleanup", { ...vaultPath(id), body: { keep: job.keep } }),
          );
        case "apply":
          return unwrap(
            api.POST("/api/v1/vaults/{vault_id}/plans/{plan_id}/apply", {
              params: { path: { vault_id: id, plan_id: job.planId } },
            }),
          );
        case "rollback":
          return unwrap(
            api.POST("/api/v1/operations/{operation_id}/rollback", {
              params: { path: { operation_id: job.operationId } },
            }),
          );
      }
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["vaults", id] }),
  });
}

export function useDuplicateReport(id: string) {
  return useQuery({
    queryKey: ["vaults", id, "duplicates"],
    queryFn: () => unwrap(api.GET("/api/v1/vaults/{vault_id}/duplicates", vaultPath(id))),
  });
}

export function usePlans(id: string) {
  return useQuery({
    queryKey: ["vaults", id, "plans"],
    queryFn: () =>
      unwrap(api.GET("/api/v1/vaults/{vault_id}/plans", { params: { path: { vault_id: id }, query: { limit: 20 } } })),
  });
}

export const PLAN_PAGE = 1000;

/** A plan and its moves, a page at a time; `data` is the plan with every page's moves so far. */
export function usePlan(vaultId: string, planId: string | null) {
  return useInfiniteQuery({
    queryKey: ["vaults", vaultId, "plans", planId],
    enabled: Boolean(planId),
    initialPageParam: null as string | null,
    getNextPageParam: (last: Plan) => last.next_cursor ?? null,
    queryFn: ({ pageParam }): Promise<Plan> =>
      unwrap(
        api.GET("/api/v1/vaults/{vault_id}/plans/{plan_id}", {
          params: {
            path: { vault_id: vaultId, plan_id: planId ?? "" },
            query: { limit: PLAN_PAGE, ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    select: (data): Plan | undefined => {
      const last = data.pages.at(-1);
      const first = data.pages[0];
      if (!first || !last) return undefined;
      // The plan as it is now (the newest page), with every move read so far.
      return { ...last, moves: data.pages.flatMap((p) => p.moves), next_cursor: last.next_cursor };
    },
  });
}

export function useAssetFiles(symbol: string) {
  return useQuery({
    queryKey: ["assets", symbol, "files"],
    queryFn: () =>
      unwrap(api.GET("/api/v1/assets/{symbol}/files", { params: { path: { symbol }, query: { limit: 100 } } })),
  });
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "—";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${units[unit]}`;
}
