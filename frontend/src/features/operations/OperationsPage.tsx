import { useState } from "react";
import { Link } from "react-router";
import { Empty, QueryState } from "@/components/State";
import { StatusBadge } from "@/components/Badges";
import { describeError } from "@/lib/api";
import { formatAge, formatDateTime } from "@/lib/format";
import {
  downloadResult,
  FINAL_STATUSES,
  resultFile,
  useCancelOperation,
  useOperationProgress,
  useOperations,
  useRollback,
  type Operation,
} from "./api";
import { OperationProgress } from "./ProgressBar";

const STATUSES = ["", "pending", "running", "succeeded", "failed", "cancelled"];

/** The numbers of a result ("rows: 2 · added: 2"), the rest left to the API. */
export function summarise(result: Record<string, unknown>): string {
  return Object.entries(result)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${(v as number).toLocaleString("en-US")}`)
    .join(" · ");
}

function OperationRow({ initial }: { initial: Operation }) {
  const live = useOperationProgress(FINAL_STATUSES.includes(initial.status) ? null : initial.id, initial);
  const operation = live ?? initial;
  const cancel = useCancelOperation();
  const active = !FINAL_STATUSES.includes(operation.status);
  return (
    <li className="card op-row">
      <div className="op-head">
        <strong>{operation.kind.replace(/[._]/g, " ")}</strong>
        <span className="muted small" title={formatDateTime(operation.created_at)}>
          {formatAge(operation.created_at)}
        </span>
      </div>
      {active ? (
        <OperationProgress operation={operation} />
      ) : (
        <p className="small">
          <StatusBadge status={operation.status} />{" "}
          {operation.finished_at && <span className="muted">finished {formatAge(operation.finished_at)}</span>}
          {operation.result && <span className="muted"> · {summarise(operation.result)}</span>}
        </p>
      )}
      {operation.error && !active && <p className="form-error">{operation.error.message}</p>}
      {active && (
        <button
          type="button"
          disabled={cancel.isPending || operation.cancel_requested}
          onClick={() => cancel.mutate(operation.id)}
        >
          {operation.cancel_requested ? "Cancelling…" : "Cancel"}
        </button>
      )}
      {cancel.error && <p className="form-error">{describeError(cancel.error)}</p>}
      <ResultLinks operation={operation} />
    </li>
  );
}

/** What a finished operation left: a file to download, or the vault whose plan it made or ran. */
export function ResultLinks({ operation }: { operation: Operation }) {
  const [error, setError] = useState<string | null>(null);
  const rollback = useRollback();
  const file = resultFile(operation);
  const vaultId = operation.result?.vault_id ?? operation.params.vault_id;
  const undoable = operation.kind === "vault_apply" && operation.status === "succeeded";
  if (!file && typeof vaultId !== "string") return null;
  return (
    <div className="actions">
      {file && (
        <button
          type="button"
          className="small"
          onClick={() => downloadResult(operation).then(() => setError(null), (e: unknown) => setError(describeError(e)))}
        >
          {file.label}
        </button>
      )}
      {undoable && (
        <button
          type="button"
          className="small danger"
          disabled={rollback.isPending || rollback.isSuccess}
          onClick={() => rollback.mutate(operation.id)}
        >
          {rollback.isSuccess ? "Rollback started" : "Roll back"}
        </button>
      )}
      {typeof vaultId === "string" && <Link to={`/vault/${vaultId}`}>Open the vault</Link>}
      {rollback.error ? (
        <p className="form-error" role="alert">
          {describeError(rollback.error)}
        </p>
      ) : null}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function OperationsPage() {
  const [status, setStatus] = useState("");
  const query = useOperations(status || null);
  return (
    <section>
      <div className="page-head">
        <h1>Operations</h1>
        <label className="inline">
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "all"}
              </option>
            ))}
          </select>
        </label>
      </div>
      <QueryState
        query={query}
        isEmpty={(page) => page.items.length === 0}
        empty={<Empty title="No operations yet">Imports, exports and validations show up here.</Empty>}
      >
        {(page) => (
          <ul className="op-list">
            {page.items.map((op) => (
              <OperationRow key={op.id} initial={op} />
            ))}
          </ul>
        )}
      </QueryState>
    </section>
  );
}
