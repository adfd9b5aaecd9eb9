import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, unwrap, type Schemas } from "@/lib/api";
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
