import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { StatusBadge } from "@/components/Badges";
import { Empty, QueryState } from "@/components/State";
import type { Operation } from "@/features/operations/api";
import { describeError } from "@/lib/api";
import { formatAge } from "@/lib/format";
import { usePlan, usePlans, useVaultJob } from "../api";
import { JobTracker } from "./JobTracker";
import { PlanReview } from "./PlanReview";

/** Make an organise plan, read it, apply it, roll it back; the vault's earlier plans. */
export function Organise({
  vaultId,
  planId,
  onPlan,
}: {
  vaultId: string;
  planId: string | null;
  onPlan: (planId: string) => void;
}) {
  const plans = usePlans(vaultId);
  const plan = usePlan(vaultId, planId);
  const job = useVaultJob(vaultId);
  const queryClient = useQueryClient();
  const [conflict, setConflict] = useState<"skip" | "rename_new">("skip");
  const [planning, setPlanning] = useState<Operation | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["vaults", vaultId] });

  return (
    <>
      <section className="card" aria-labelledby="organise-title">
        <h2 id="organise-title">Organise</h2>
        <p className="muted small">
          A plan says where the rules put each scanned file. Nothing moves until you read the plan and apply it.
        </p>
        <div className="inline-form">
          <label>
            When a target is taken
            <select value={conflict} onChange={(e) => setConflict(e.target.value as "skip" | "rename_new")}>
              <option value="skip">skip the file</option>
              <option value="rename_new">give it a new name</option>
            </select>
          </label>
          <button
            type="button"
            disabled={job.isPending}
            onClick={() =>
              job.mutateAsync({ kind: "organize", conflict }).then(setPlanning, () => undefined)
            }
          >
            Make organise plan
          </button>
        </div>
        {job.error && !planId && (
          <p className="form-error" role="alert">
            {describeError(job.error)}
          </p>
        )}
        {planning && (
          <JobTracker
            key={planning.id}
            operation={planning}
            label="Making the plan"
            onFinished={(op) => {
              void refresh();
              const id = op.params.plan_id;
              if (op.status === "succeeded" && typeof id === "string") onPlan(id);
            }}
          />
        )}
        <h3>Plans</h3>
        <QueryState
          query={plans}
          loadingLabel="Loading plans…"
          isEmpty={(p) => p.items.length === 0}
          empty={<Empty title="No plans yet" />}
        >
          {(p) => (
            <ul className="plan-list">
              {p.items.map((s) => (
                <li key={s.id}>
                  <button
                    type="button"
                    className={s.id === planId ? "small primary" : "small"}
                    aria-pressed={s.id === planId}
                    onClick={() => onPlan(s.id)}
                  >
                    Show
                  </button>{" "}
                  {s.kind === "dedupe" ? "clean-up" : "organise"} · <StatusBadge status={s.status} /> ·{" "}
                  {s.move_count} move(s) · <span className="muted">{formatAge(s.created_at)}</span>
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </section>
      {planId && (
        <PlanReview
          key={planId}
          plan={plan.data}
          error={plan.error}
          pending={job.isPending}
          jobError={job.error}
          onApply={(p) => job.mutateAsync({ kind: "apply", planId: p.id })}
          onRollback={(operationId) => job.mutateAsync({ kind: "rollback", operationId })}
          onJobFinished={() => void refresh()}
          onLoadMore={() => void plan.fetchNextPage()}
          loadingMore={plan.isFetchingNextPage}
        />
      )}
    </>
  );
}
