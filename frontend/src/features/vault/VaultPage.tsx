import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { QueryState } from "@/components/State";
import type { Operation } from "@/features/operations/api";
import { describeError } from "@/lib/api";
import { formatAge, formatDateTime } from "@/lib/format";
import { useDeleteVault, useVault, useVaultJob } from "./api";
import { Duplicates } from "./components/Duplicates";
import { FileBrowser } from "./components/FileBrowser";
import { JobTracker } from "./components/JobTracker";
import { Organise } from "./components/Organise";
import { Upload } from "./components/Upload";
import { vaultLocation } from "./VaultsPage";

export function VaultPage() {
  const { vaultId = "" } = useParams();
  const vault = useVault(vaultId);
  const job = useVaultJob(vaultId);
  const remove = useDeleteVault();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [scan, setScan] = useState<Operation | null>(null);
  const [planId, setPlanId] = useState<string | null>(null);

  const showPlan = (id: string) => {
    setPlanId(id);
    requestAnimationFrame(() => document.getElementById("plan-anchor")?.scrollIntoView({ block: "start" }));
  };

  return (
    <QueryState query={vault} loadingLabel="Loading the vault…">
      {(v) => (
        <section>
          <div className="page-head">
            <div>
              <h1>{v.name}</h1>
              <p className="muted path">
                {v.kind === "s3" ? "S3" : "local"} · {vaultLocation(v)} · last scan{" "}
                <span title={formatDateTime(v.last_scan_at)}>{v.last_scan_at ? formatAge(v.last_scan_at) : "never"}</span>
              </p>
            </div>
            <div className="actions">
              <button
                type="button"
                className="primary"
                disabled={job.isPending}
                onClick={() => job.mutateAsync({ kind: "scan" }).then(setScan, () => undefined)}
              >
                Scan vault
              </button>
              <button
                type="button"
                className="danger"
                disabled={remove.isPending}
                onClick={() => {
                  if (window.confirm(`Forget the vault '${v.name}'? Its files stay where they are.`))
                    remove.mutateAsync(v.id).then(() => navigate("/vault"), () => undefined);
                }}
              >
                Remove
              </button>
            </div>
          </div>
          {job.error || remove.error ? (
            <p className="form-error" role="alert">
              {describeError(job.error ?? remove.error)}
            </p>
          ) : null}
          {scan && (
            <JobTracker
              key={scan.id}
              operation={scan}
              label="Scanning"
              onFinished={() => void queryClient.invalidateQueries({ queryKey: ["vaults", vaultId] })}
            />
          )}
          <div className="vault-grid">
            <div className="vault-main">
              <FileBrowser vaultId={v.id} />
              <div id="plan-anchor" />
              <Organise vaultId={v.id} planId={planId} onPlan={showPlan} />
            </div>
            <div className="vault-side">
              <Upload vaultId={v.id} />
              <Duplicates vaultId={v.id} onPlan={showPlan} />
            </div>
          </div>
        </section>
      )}
    </QueryState>
  );
}
