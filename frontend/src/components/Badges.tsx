import { formatAge, freshness } from "@/lib/format";

/** Values from the simulated provider are always labelled as such. */
export function SourceBadge({ source }: { source: string | null | undefined }) {
  if (source !== "sim") return null;
  return (
    <span className="badge badge-sim" title="From the simulated provider, not a real market">
      simulated
    </span>
  );
}

const FRESHNESS_LABEL = { live: "live", recent: "recent", stale: "stale", none: "no quote" };

export function FreshnessBadge({
  asOf,
  stale,
  now,
}: {
  asOf: string | null | undefined;
  stale?: boolean | null;
  now?: number;
}) {
  const level = freshness(asOf, stale, now);
  return (
    <span
      className={`badge badge-${level}`}
      title={asOf ? `as of ${new Date(asOf).toLocaleString()} (${formatAge(asOf, now)})` : "no quote yet"}
    >
      {FRESHNESS_LABEL[level]}
    </span>
  );
}

const STATUS_TONE: Record<string, string> = {
  valid: "ok",
  succeeded: "ok",
  filled: "ok",
  invalid: "bad",
  failed: "bad",
  rejected: "bad",
  canceled: "muted",
  cancelled: "muted",
  expired: "muted",
  pending: "warn",
  running: "info",
  new: "info",
  accepted: "info",
  partially_filled: "info",
  // vault plans and their moves
  ready: "info",
  planned: "info",
  planning: "info",
  applying: "info",
  rolling_back: "info",
  applied: "ok",
  done: "ok",
  restored: "ok",
  rolled_back: "muted",
  skipped: "warn",
  changed: "warn",
  conflict: "bad",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${STATUS_TONE[status] ?? "muted"}`}>{status.replace(/_/g, " ")}</span>
  );
}
