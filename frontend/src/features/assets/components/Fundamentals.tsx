import { SourceBadge } from "@/components/Badges";
import { Empty, QueryState } from "@/components/State";
import { useDataTypes, useMarketValues } from "@/features/market/api";
import { formatAge, formatDateTime } from "@/lib/format";

type Row = Record<string, unknown>;
const MAX_ROWS = 12;
// The per-symbol data types worth a person's eye, in the order they are shown (others, such as
// the exchanges list, are not about one asset).
export const FUNDAMENTAL_TYPES = [
  "profile",
  "ratios-ttm",
  "financial-statements",
  "dividend-history",
  "shares-float",
  "revenue-segmentation",
  "grades-historical",
];

const label = (key: string) => key.replace(/_/g, " ");

// Shown once, in the heading: never repeated in every row.
const HIDDEN = new Set(["symbol", "source"]);

function cell(value: unknown, key = ""): string {
  if (value === null || value === undefined || value === "") return "—";
  if (/year|date|period|cik/i.test(key)) return String(value);
  if (typeof value === "number") return value.toLocaleString("en-US", { maximumFractionDigits: 4 });
  if (typeof value === "string" && /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(value))
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: 4 });
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A value as the engine holds it: a table of rows, a list of facts, or a single figure. */
export function ValueView({ name, value }: { name: string; value: unknown }) {
  const rows: Row[] | null = Array.isArray(value)
    ? (value.filter((v) => v && typeof v === "object") as Row[])
    : value && typeof value === "object"
      ? (Object.values(value).find((v) => Array.isArray(v) && v.length > 0 && typeof v[0] === "object") as Row[] | undefined) ?? null
      : null;
  if (rows && rows.length > 0) {
    const columns = [...new Set(rows.slice(0, MAX_ROWS).flatMap((r) => Object.keys(r)))]
      .filter((c) => !HIDDEN.has(c))
      .slice(0, 8);
    return (
      <div className="table-wrap">
        <table aria-label={label(name)}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c} scope="col">
                  {label(c)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, MAX_ROWS).map((r, i) => (
              <tr key={i}>
                {columns.map((c) => (
                  <td key={c}>{cell(r[c], c)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length > MAX_ROWS && <p className="muted small">{MAX_ROWS} of {rows.length} shown.</p>}
      </div>
    );
  }
  if (value && typeof value === "object") {
    const facts = Object.entries(value as Row).filter(
      ([k, v]) => !HIDDEN.has(k) && (v === null || typeof v !== "object"),
    );
    return (
      <dl className="stats">
        {facts.map(([k, v]) => (
          <div key={k}>
            <dt>{label(k)}</dt>
            <dd>{cell(v, k)}</dd>
          </div>
        ))}
      </dl>
    );
  }
  return <p className="num">{cell(value)}</p>;
}

/** Every fundamental data type the engine holds for the asset, as it holds it. */
export function Fundamentals({ symbol }: { symbol: string }) {
  const types = useDataTypes();
  const known = new Set((types.data?.data_types ?? []).map((t) => t.name));
  const wanted = FUNDAMENTAL_TYPES.filter((n) => known.has(n));
  const values = useMarketValues(symbol, wanted);
  if (types.isPending || types.error || wanted.length === 0) return null;
  return (
    <section className="card fundamentals" aria-labelledby="fundamentals-title">
      <h2 id="fundamentals-title">Fundamentals</h2>
      <QueryState
        query={values}
        loadingLabel="Loading fundamentals…"
        isEmpty={(d) => d.values.every((v) => v.value === null || v.value === undefined)}
        empty={<Empty title="No fundamentals yet">They are asked for; they appear once a provider answers.</Empty>}
      >
        {(d) => (
          <>
            {d.values
              .filter((v) => v.value !== null && v.value !== undefined)
              .map((v) => (
                <div key={v.data_type} className="fundamental">
                  <h3>
                    {label(v.data_type)} <SourceBadge source={v.source} />{" "}
                    <span className="muted small" title={formatDateTime(v.as_of)}>
                      {v.as_of ? `as of ${formatAge(v.as_of)}` : ""}
                      {v.stale ? " · stale" : ""}
                    </span>
                  </h3>
                  <ValueView name={v.data_type} value={v.value} />
                </div>
              ))}
            {d.values.some((v) => v.value === null || v.value === undefined) && (
              <p className="muted small">
                Not held yet:{" "}
                {d.values
                  .filter((v) => v.value === null || v.value === undefined)
                  .map((v) => label(v.data_type))
                  .join(", ")}
                .
              </p>
            )}
          </>
        )}
      </QueryState>
    </section>
  );
}
