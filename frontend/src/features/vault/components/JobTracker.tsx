import { useEffect, useRef } from "react";
import { FINAL_STATUSES, useOperationProgress, type Operation } from "@/features/operations/api";
import { OperationProgress } from "@/features/operations/ProgressBar";

/** A vault job's live progress (`/ws/operations/{id}`); `onFinished` runs once when it ends. */
export function JobTracker({
  operation,
  label,
  onFinished,
}: {
  operation: Operation;
  label: string;
  onFinished?: (operation: Operation) => void;
}) {
  const live = useOperationProgress(operation.id, operation) ?? operation;
  const reported = useRef<string | null>(null);
  useEffect(() => {
    if (FINAL_STATUSES.includes(live.status) && reported.current !== live.id) {
      reported.current = live.id;
      onFinished?.(live);
    }
  }, [live, onFinished]);
  return (
    <div className="job" aria-live="polite">
      <p className="small">
        <strong>{label}</strong>
      </p>
      <OperationProgress operation={live} />
    </div>
  );
}
