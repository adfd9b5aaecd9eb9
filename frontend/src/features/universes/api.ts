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
    mutationFn: (body: { name: string; description: string | null }) =>
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
