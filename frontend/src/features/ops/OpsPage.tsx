import { Navigate } from "react-router";
import { Empty, QueryState } from "@/components/State";
import { useAuth } from "@/features/auth/AuthProvider";
import { useMarketStatus, useProvidersHealth } from "@/features/market/api";
import { formatCount, formatDateTime, formatPercent } from "@/lib/format";
import { DataTypes } from "./DataTypes";

function quotaText(w: { used: number; limit?: number | null }) {
  return w.limit ? `${formatCount(w.used)} of ${formatCount(w.limit)}` : `${formatCount(w.used)} (no limit)`;
}

/** For admins: the market-data engine's queue, rates, quotas, freshness and providers. */
export function OpsPage() {
  const { user } = useAuth();
  const admin = Boolean(user?.is_admin);
  const status = useMarketStatus(admin);
  const providers = useProvidersHealth(admin);
  if (!admin) return <Navigate to="/universes" replace />;
  return (
    <section>
      <h1>Market data operations</h1>
      <QueryState query={status}>
        {(s) => (
          <>
            <p className="muted">
              Engine {s.engine_enabled ? "on" : "off"} · as of {formatDateTime(s.as_of)}
            </p>
            <dl className="stats card" aria-label="Refresh queue">
              {Object.entries(s.queue.by_status).map(([k, v]) => (
                <div key={k}><dt>queue {k}</dt><dd>{formatCount(v)}</dd></div>
              ))}
              <div><dt>Oldest due</dt><dd>{s.queue.oldest_due_seconds === null || s.queue.oldest_due_seconds === undefined ? "—" : `${Math.round(s.queue.oldest_due_seconds)} s`}</dd></div>
              <div><dt>Completed / min</dt><dd>{s.rates.completed_per_minute.toFixed(1)}</dd></div>
              <div><dt>Failed / min</dt><dd>{s.rates.failed_per_minute.toFixed(1)}</dd></div>
              <div><dt>Error ratio</dt><dd>{formatPercent(s.rates.error_ratio, { signed: false })}</dd></div>
              <div><dt>Fresh</dt><dd>{formatCount(s.freshness.fresh)} of {formatCount(s.freshness.watched_pairs)} ({formatPercent(s.freshness.fresh_percent, { alreadyPercent: true, signed: false })})</dd></div>
            </dl>
            <h2>Quotas</h2>
            {s.quota.length === 0 ? (
              <Empty title="No provider has a quota">The configured providers are not rate-limited.</Empty>
            ) : (
            <div className="table-wrap">
              <table aria-label="Provider quotas">
                <thead><tr><th scope="col">Provider</th><th scope="col">This minute</th><th scope="col">Today</th><th scope="col" className="hide-sm">Resets</th></tr></thead>
                <tbody>
                  {s.quota.map((q) => (
                    <tr key={q.provider}>
                      <td>{q.provider}</td>
                      <td>{quotaText(q.minute)}</td>
                      <td>{quotaText(q.day)}</td>
                      <td className="hide-sm">{formatDateTime(q.day.resets_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
          </>
        )}
      </QueryState>
      <DataTypes />
      <h2>Providers</h2>
      <QueryState query={providers}>
        {(h) => (
          <div className="table-wrap">
            <table aria-label="Provider health">
              <thead><tr><th scope="col">Provider</th><th scope="col">Breaker</th><th scope="col" className="hide-sm">Datasets</th></tr></thead>
              <tbody>
                {h.providers.map((p) => (
                  <tr key={p.name}>
                    <td>{p.name} {p.simulated && <span className="badge badge-sim">simulated</span>}</td>
                    <td>{String(p.breaker.state ?? "—")}</td>
                    <td className="hide-sm">{(p.datasets ?? []).map((d) => (typeof d === "string" ? d : (d as { name?: string }).name)).join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
    </section>
  );
}
