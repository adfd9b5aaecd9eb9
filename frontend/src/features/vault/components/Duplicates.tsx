import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Empty, QueryState } from "@/components/State";
import type { Operation } from "@/features/operations/api";
import { describeError } from "@/lib/api";
import { formatBytes, useDuplicateReport, useVaultJob } from "../api";
import { JobTracker } from "./JobTracker";

type Keep = "oldest" | "newest" | "shortest_path";

/** The duplicates report (groups, reclaimable bytes) and the plan of its clean-up. */
export function Duplicates({ vaultId, onPlan }: { vaultId: string; onPlan: (planId: string) => void }) {
  const report = useDuplicateReport(vaultId);
  const job = useVaultJob(vaultId);
  const queryClient = useQueryClient();
  const [running, setRunning] = useState<{ operation: Operation; label: string } | null>(null);
  const [keep, setKeep] = useState<Keep>("oldest");

  return (
    <section className="card" aria-labelledby="dup-title">
      <h2 id="dup-title">Duplicates</h2>
      <div className="actions">
        <button
          type="button"
          disabled={job.isPending}
          onClick={() =>
            job.mutateAsync({ kind: "duplicates" }).then(
              (operation) => setRunning({ operation, label: "Looking for duplicates" }),
              () => undefined,
            )
          }
        >
          Find duplicates
        </button>
      </div>
      {job.error && (
        <p className="form-error" role="alert">
          {describeError(job.error)}
        </p>
      )}
      {running && (
        <JobTracker
          key={running.operation.id}
          operation={running.operation}
          label={running.label}
          onFinished={(op) => {
            void queryClient.invalidateQueries({ queryKey: ["vaults", vaultId] });
            const planId = op.params.plan_id;
            if (op.status === "succeeded" && typeof planId === "string") onPlan(planId);
          }}
        />
      )}
      <QueryState
        query={report}
        loadingLabel="Loading the duplicates report…"
        isEmpty={(r) => r.group_count === 0}
        empty={<Empty title="No duplicates found">Scan the vault, then look for duplicates.</Empty>}
      >
        {(r) => (
          <>
            <p>
              <strong>{r.group_count.toLocaleString("en-US")}</strong> group(s) of identical files;{" "}
              <strong>{formatBytes(r.reclaimable_bytes)}</strong> reclaimable.
            </p>
            <ul className="dup-groups">
              {r.groups.map((g) => (
                <li key={g.content_hash}>
                  <span className="muted small">
                    {g.copies.length} copies of {formatBytes(g.size)} · {formatBytes(g.reclaimable_bytes)} reclaimable
                  </span>
                  <ul>
                    {g.copies.map((c) => (
                      <li key={c.paths.join("|")} className="path">
                        {c.paths.join(" = ")}
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
            <div className="inline-form">
              <label>
                Keep
                <select value={keep} onChange={(e) => setKeep(e.target.value as Keep)}>
                  <option value="oldest">the oldest copy</option>
                  <option value="newest">the newest copy</option>
                  <option value="shortest_path">the shortest path</option>
                </select>
              </label>
              <button
                type="button"
                disabled={job.isPending}
                onClick={() =>
                  job.mutateAsync({ kind: "cleanup", keep }).then(
                    (operation) => setRunning({ operation, label: "Planning the clean-up" }),
                    () => undefined,
                  )
                }
              >
                Plan the clean-up
              </button>
            </div>
            <p className="muted small">The extra copies would move to the vault's quarantine folder; nothing is deleted.</p>
          </>
        )}
      </QueryState>
    </section>
  );
}
