import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, unwrap, type Schemas } from "@/lib/api";
import { toApiError } from "@/lib/api/client";
import { openLiveSocket } from "@/lib/ws";

export type Operation = Schemas["OperationOut"];

export const FINAL_STATUSES = ["succeeded", "failed", "cancelled"];

export function useOperations(status: string | null) {
  return useQuery({
    queryKey: ["operations", status],
    refetchInterval: 5_000,
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/operations", {
          params: {
            query: {
              limit: 100,
              ...(status ? { status: status as "pending" | "running" | "succeeded" | "failed" | "cancelled" } : {}),
            },
          },
        }),
      ),
  });
}

export function useCancelOperation() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/operations/{operation_id}/cancel", { params: { path: { operation_id: id } } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["operations"] }),
  });
}

/** An operation as `/ws/operations/{id}` pushes it: its state now, every change, the end. */
export function useOperationProgress(id: string | null, initial?: Operation) {
  const [operation, setOperation] = useState<Operation | undefined>(initial);
  useEffect(() => {
    setOperation(initial);
    if (!id) return;
    let finished = initial ? FINAL_STATUSES.includes(initial.status) : false;
    if (finished) return;
    const socket = openLiveSocket(`/ws/operations/${id}`, {
      onMessage: (message) => {
        const op = message.operation as Operation | undefined;
        if (!op) return;
        setOperation(op);
        if (FINAL_STATUSES.includes(op.status)) finished = true;
      },
      onClose: (code) => finished || code === 4404 || code === 1000,
    });
    return () => socket.close();
    // Only the id restarts the socket: `initial` seeds the state once.
  }, [id]);
  return operation;
}

/** The file a finished operation left behind, if its kind leaves one (a CSV export, import results). */
export function resultFile(op: Operation): { label: string; name: string } | null {
  const universeId = op.params.universe_id;
  if (op.status !== "succeeded" && op.kind !== "import_universe_csv") return null;
  if (typeof universeId !== "string") return null;
  if (op.kind === "export_universe_csv") return { label: "Download CSV", name: `export-${op.id.slice(0, 8)}.csv` };
  if (op.kind === "import_universe_csv" && FINAL_STATUSES.includes(op.status))
    return { label: "Download row results", name: `import-${op.id.slice(0, 8)}.ndjson` };
  return null;
}

export async function downloadResult(op: Operation): Promise<void> {
  const file = resultFile(op);
  const universe_id = String(op.params.universe_id);
  if (!file) return;
  const { data, error, response } =
    op.kind === "export_universe_csv"
      ? await api.GET("/api/v1/universes/{universe_id}/exports/{operation_id}", {
          params: { path: { universe_id, operation_id: op.id } },
          parseAs: "blob",
        })
      : await api.GET("/api/v1/universes/{universe_id}/imports/{operation_id}/results", {
          params: { path: { universe_id, operation_id: op.id } },
          parseAs: "blob",
        });
  if (!response.ok || !data) throw toApiError(error, response);
  const url = URL.createObjectURL(data as Blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = file.name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Undo a vault apply operation's moves (a job of its own, listed with the others). */
export function useRollback() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/operations/{operation_id}/rollback", { params: { path: { operation_id: id } } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["operations"] }),
  });
}
