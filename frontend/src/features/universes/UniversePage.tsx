import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { Empty, ErrorState, QueryState } from "@/components/State";
import { describeError } from "@/lib/api";
import { formatCount } from "@/lib/format";
import {
  downloadCsv,
  moveItem,
  useChangeMembers,
  useDeleteUniverse,
  useReorderMembers,
  useUniverse,
  useUniverseMembers,
} from "./api";
import { AddAssets, describeResult } from "./components/AddAssets";
import { ImportCsv } from "./components/ImportCsv";
import { MembersTable } from "./components/MembersTable";
import { Turnover } from "./components/Turnover";

export function UniversePage() {
  const { universeId = "" } = useParams();
  const universe = useUniverse(universeId);
  const members = useUniverseMembers(universeId);
  const change = useChangeMembers(universeId);
  const reorder = useReorderMembers(universeId);
  const remove = useDeleteUniverse();
  const navigate = useNavigate();
  const [filter, setFilter] = useState("");
  const [message, setMessage] = useState<string | null>(null);

  if (universe.error) return <ErrorState error={universe.error} onRetry={() => void universe.refetch()} />;

  const needle = filter.trim().toLowerCase();
  const rows = (members.data ?? []).filter(
    (m) => !needle || m.symbol.toLowerCase().includes(needle) || m.name.toLowerCase().includes(needle),
  );

  return (
    <section>
      <QueryState query={universe}>
        {(u) => (
          <>
            <div className="page-head">
              <div>
                <h1>{u.name}</h1>
                {u.description && <p className="muted">{u.description}</p>}
              </div>
              <div className="actions">
                <ImportCsv universeId={u.id} />
                <button
                  type="button"
                  onClick={() => downloadCsv(u.id, u.name).catch((e: unknown) => setMessage(describeError(e)))}
                >
                  Export CSV
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => {
                    if (confirm(`Delete the universe “${u.name}”?`))
                      remove.mutate(u.id, { onSuccess: () => navigate("/universes") });
                  }}
                >
                  Delete
                </button>
              </div>
            </div>
            <dl className="stats">
              <div>
                <dt>Assets</dt>
                <dd>{formatCount(u.asset_count)}</dd>
              </div>
              {Object.entries(u.by_validation_status).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{formatCount(v as number)}</dd>
                </div>
              ))}
              {Object.entries(u.by_asset_class).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{formatCount(v as number)}</dd>
                </div>
              ))}
            </dl>
          </>
        )}
      </QueryState>
      <AddAssets universeId={universeId} />
      {message && <p className="form-error" role="alert">{message}</p>}
      {remove.error && <p className="form-error" role="alert">{describeError(remove.error)}</p>}
      {reorder.error && <p className="form-error" role="alert">{describeError(reorder.error)}</p>}
      <QueryState
        query={members}
        loadingLabel="Loading assets…"
        isEmpty={(items) => items.length === 0}
        empty={<Empty title="No assets yet">Search above to add some, or import a CSV file.</Empty>}
      >
        {(items) => (
          <>
            <div className="toolbar">
              <label className="inline">
                Filter
                <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="symbol or name" />
              </label>
              <span className="muted">
                {formatCount(rows.length)} of {formatCount(items.length)}
              </span>
            </div>
            <p className="muted small" aria-live="polite">
              {needle
                ? "Clear the filter to reorder."
                : reorder.isPending
                  ? "Saving the order…"
                  : "Drag rows, or use their ↑ ↓ buttons, to reorder."}
            </p>
            <MembersTable
              members={rows}
              {...(needle ? {} : { onMove: (from: number, to: number) => reorder.mutate(moveItem(items, from, to)) })}
              removing={change.isPending ? (change.variables?.remove?.[0] ?? null) : null}
              onRemove={(symbol) =>
                change.mutate(
                  { remove: [symbol] },
                  {
                    onSuccess: (r) => setMessage(r.results.map(describeResult).join("; ")),
                    onError: (e) => setMessage(describeError(e)),
                  },
                )
              }
            />
          </>
        )}
      </QueryState>
      <Turnover universeId={universeId} />
    </section>
  );
}
