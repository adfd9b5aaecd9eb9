import type { Operation } from "./api";
import { StatusBadge } from "@/components/Badges";
import { formatCount } from "@/lib/format";

export function OperationProgress({ operation }: { operation: Operation }) {
  const { done, total, percent, message } = operation.progress;
  // A job that counted nothing it could total still reads as complete once it has succeeded.
  const pct = percent ?? (total ? (100 * done) / total : operation.status === "succeeded" ? 100 : null);
  return (
    <div className="progress-block">
      <div className="progress-head">
        <StatusBadge status={operation.status} />
        <span>
          {formatCount(done)}
          {total ? ` of ${formatCount(total)}` : ""}
          {pct !== null ? ` (${pct.toFixed(0)}%)` : ""}
        </span>
      </div>
      <progress
        max={100}
        value={pct ?? undefined}
        aria-label={`${operation.kind} progress`}
      />
      {message && <p className="muted small">{message}</p>}
      {operation.error && (
        <p className="form-error" role="alert">
          {operation.error.message}
        </p>
      )}
    </div>
  );
}
