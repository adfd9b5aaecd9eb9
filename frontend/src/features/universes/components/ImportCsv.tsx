import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { describeError } from "@/lib/api";
import { FINAL_STATUSES, useOperationProgress } from "@/features/operations/api";
import { OperationProgress } from "@/features/operations/ProgressBar";
import { useImportCsv } from "../api";

/** Upload a CSV; its rows are added in the background and the progress arrives live. */
export function ImportCsv({ universeId }: { universeId: string }) {
  const upload = useImportCsv(universeId);
  const queryClient = useQueryClient();
  const [operationId, setOperationId] = useState<string | null>(null);
  const operation = useOperationProgress(operationId, upload.data);
  const finished = operation ? FINAL_STATUSES.includes(operation.status) : false;

  useEffect(() => {
    if (finished) void queryClient.invalidateQueries({ queryKey: ["universes"] });
  }, [finished, queryClient]);

  return (
    <div className="import">
      <label className="button-like">
        Import CSV
        <input
          type="file"
          accept=".csv,text/csv"
          className="sr-only"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = "";
            if (file) upload.mutate(file, { onSuccess: (op) => setOperationId(op.id) });
          }}
        />
      </label>
      {upload.isPending && <span className="muted" role="status">Uploading…</span>}
      {upload.error && <p className="form-error" role="alert">{describeError(upload.error)}</p>}
      {operation && (
        <div aria-live="polite">
          <OperationProgress operation={operation} />
          {operation.status === "succeeded" && operation.result && (
            <p className="muted small">
              {Object.entries(operation.result)
                .filter(([, v]) => typeof v === "number")
                .map(([k, v]) => `${k.replace(/_/g, " ")}: ${String(v)}`)
                .join(" · ")}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
