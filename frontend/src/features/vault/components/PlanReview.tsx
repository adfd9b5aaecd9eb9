import { useState } from "react";
import { ErrorState, Loading } from "@/components/State";
import type { Operation } from "@/features/operations/api";
import { describeError } from "@/lib/api";
import type { Plan } from "../api";
import { JobTracker } from "./JobTracker";
import { PlanView } from "./PlanView";

/**
 * A plan shown in full before anything moves: Apply exists only for a ready plan that is on
 * screen; Rollback only for an applied one. Their jobs' progress is live.
 */
export function PlanReview({
  plan,
  error,
  onApply,
  onRollback,
  onJobFinished,
  pending,
  jobError,
  onLoadMore,
  loadingMore,
}: {
  plan: Plan | undefined;
  error?: unknown;
  onApply: (plan: Plan) => Promise<Operation>;
  onRollback: (operationId: string) => Promise<Operation>;
  onJobFinished: () => void;
  pending?: boolean;
  jobError?: unknown;
  /** The plan has more moves than were read (`next_cursor`): read the next page. */
  onLoadMore?: () => void;
  loadingMore?: boolean;
}) {
  const [job, setJob] = useState<{ operation: Operation; label: string } | null>(null);
  const [confirmed, setConfirmed] = useState(false);
  if (error) return <ErrorState error={error} />;
  const shown = plan !== undefined && plan.status !== "planning";
  const complete = shown && !plan.next_cursor; // every move on screen
  const canApply = complete && plan.status === "ready" && confirmed && !pending;
  const canRollback = shown && plan.status === "applied" && Boolean(plan.apply_operation_id) && !pending;

  return (
    <section className="card" aria-label="Plan">
      <h2>Plan</h2>
      {!plan ? (
        <Loading label="Loading the plan…" />
      ) : plan.status === "planning" ? (
        <Loading label="The plan is being made…" />
      ) : (
        <PlanView plan={plan} />
      )}
      <div className="actions plan-actions">
        {shown && plan.next_cursor && onLoadMore && (
          <button type="button" disabled={loadingMore} onClick={onLoadMore}>
            {loadingMore ? "Loading…" : "Show more moves"}
          </button>
        )}
        {complete && plan.status === "ready" && (
          <label className="inline">
            <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />
            I have read every move above
          </label>
        )}
        {(!shown || plan.status === "ready") && (
          <button
            type="button"
            className="primary"
            disabled={!canApply}
            onClick={async () => {
              if (!plan) return;
              const operation = await onApply(plan).catch(() => null);
              if (operation) setJob({ operation, label: "Applying the plan" });
            }}
          >
            Apply plan
          </button>
        )}
        {shown && plan.status === "applied" && (
          <button
            type="button"
            className="danger"
            disabled={!canRollback}
            onClick={async () => {
              if (!plan?.apply_operation_id) return;
              const operation = await onRollback(plan.apply_operation_id).catch(() => null);
              if (operation) setJob({ operation, label: "Rolling back" });
            }}
          >
            Roll back
          </button>
        )}
      </div>
      {jobError ? <p className="form-error" role="alert">{describeError(jobError)}</p> : null}
      {job && (
        <JobTracker
          key={job.operation.id}
          operation={job.operation}
          label={job.label}
          onFinished={() => {
            setConfirmed(false);
            onJobFinished();
          }}
        />
      )}
    </section>
  );
}
