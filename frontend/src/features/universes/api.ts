import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api";
import { toApiError } from "@/lib/api/client";

export type UniverseSummary = Schemas["UniverseSummary"];
export type Member = Schemas["UniverseMember"];

export function useUniverses() {
  return useQuery({
    queryKey: ["universes"],
    queryFn: async () => {
      const items: UniverseSummary[] = [];
      let cursor: string | null = null;
      do {
        const page: Schemas["Page_UniverseSummary_"] = await unwrap(
          api.GET("/api/v1/universes", { params: { query: { limit: 200, ...(cursor ? { cursor } : {}) } } }),
        );
        items.push(...page.items);
        cursor = page.next_cursor ?? null;
      } while (cursor && items.length < 5_000);
      return items;
    },
  });
}

export function useUniverse(id: string) {
  return useQuery({
    queryKey: ["universes", id],
    queryFn: () =>
      unwrap(api.GET("/api/v1/universes/{universe_id}", { params: { path: { universe_id: id } } })),
  });
}

/** Every member, a thousand per request (a 5,000-asset universe is five requests). */
export function useUniverseMembers(id: string) {
  return useQuery({
    queryKey: ["universes", id, "members"],
    queryFn: async () => {
      const items: Member[] = [];
      let cursor: string | null = null;
      do {
        const page: Schemas["Page_UniverseMember_"] = await unwrap(
          api.GET("/api/v1/universes/{universe_id}/assets", {
            params: { path: { universe_id: id }, query: { limit: 1000, ...(cursor ? { cursor } : {}) } },
          }),
        );
        items.push(...page.items);
        cursor = page.next_cursor ?? null;
      } while (cursor);
      return items;
    },
  });
}

export function useCreateUniverse() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; description: string | null; from_index?: string | null }) =>
      unwrap(api.POST("/api/v1/universes", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["universes"] }),
  });
}

export function useDeleteUniverse() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE("/api/v1/universes/{universe_id}", { params: { path: { universe_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["universes"] }),
  });
}

export function useChangeMembers(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (change: { add?: string[]; remove?: string[] }) =>
      unwrap(
        api.POST("/api/v1/universes/{universe_id}/assets", {
          params: { path: { universe_id: id } },
          body: { add: change.add ?? [], remove: change.remove ?? [] },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["universes"] }),
  });
}

export function useImportCsv(id: string) {
  return useMutation({
    mutationFn: (file: File) =>
      unwrap(
        api.POST("/api/v1/universes/{universe_id}/import", {
          params: { path: { universe_id: id } },
          body: { file: file as unknown as string },
          bodySerializer: (body) => {
            const form = new FormData();
            form.append("file", body.file as unknown as Blob);
            return form;
          },
        }),
      ),
  });
}

/** The members' CSV as a file the browser saves. */
export async function downloadCsv(id: string, name: string): Promise<void> {
  const { data, error, response } = await api.GET("/api/v1/universes/{universe_id}/export", {
    params: { path: { universe_id: id } },
    parseAs: "blob",
  });
  if (!response.ok || !data) throw toApiError(error, response);
  const url = URL.createObjectURL(data as Blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `${name.replace(/[^\w.-]+/g, "_") || "universe"}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function useSymbolValidation() {
  return useMutation({
    mutationFn: (symbols: string[]) => unwrap(api.POST("/api/v1/assets/validate", { body: { symbols } })),
  });
}

/** `list` with the item at `from` moved to `to` (both indices into `list`). */
export function moveItem<T>(list: T[], from: number, to: number): T[] {
  if (from === to || from < 0 || to < 0 || from >= list.length || to >= list.length) return list;
  const next = [...list];
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item as T);
  return next;
}

/** Save the members' order; the table shows the new order at once and goes back on a refusal. */
export function useReorderMembers(id: string) {
  const queryClient = useQueryClient();
  const key = ["universes", id, "members"];
  return useMutation({
    mutationFn: (members: Member[]) =>
      unwrap(
        api.PUT("/api/v1/universes/{universe_id}/assets/order", {
          params: { path: { universe_id: id } },
          body: { symbols: members.map((m) => m.symbol) },
        }),
      ),
    onMutate: async (members: Member[]) => {
      await queryClient.cancelQueries({ queryKey: key });
      const before = queryClient.getQueryData<Member[]>(key);
      queryClient.setQueryData(key, members);
      return { before };
    },
    onError: (_e, _members, context) => {
      if (context?.before) queryClient.setQueryData(key, context.before);
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
}

export function useIndices() {
  return useQuery({
    queryKey: ["indices"],
    staleTime: 10 * 60_000,
    queryFn: () => unwrap(api.GET("/api/v1/indices")),
  });
}

export const TURNOVER_WEEKS = 8;

/** Turnover week by week over the last TURNOVER_WEEKS weeks (one window per request). */
export function useTurnoverHistory(id: string) {
  return useQuery({
    queryKey: ["universes", id, "turnover"],
    staleTime: 60_000,
    queryFn: async () => {
      const week = 7 * 86_400_000;
      const now = Date.now();
      const windows = Array.from({ length: TURNOVER_WEEKS }, (_, i) => ({
        start: new Date(now - (TURNOVER_WEEKS - i) * week).toISOString(),
        end: new Date(now - (TURNOVER_WEEKS - i - 1) * week).toISOString(),
      }));
      return Promise.all(
        windows.map((w) =>
          unwrap(
            api.GET("/api/v1/universes/{universe_id}/turnover", {
              params: { path: { universe_id: id }, query: w },
            }),
          ),
        ),
      );
    },
  });
}
