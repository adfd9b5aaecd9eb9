import { useMemo } from "react";
import { useParams } from "react-router";
import { FreshnessBadge, SourceBadge, StatusBadge } from "@/components/Badges";
import { Chart } from "@/components/LazyChart";
import { QueryState } from "@/components/State";
import { useQuoteHistory } from "@/features/market/api";
import { useLiveQuotes } from "@/features/market/live";
import { formatCompact, formatPercent, formatPrice, signClass, toNumber } from "@/lib/format";
import { useAsset } from "./api";
import { AssetFiles } from "./components/AssetFiles";
import { Fundamentals } from "./components/Fundamentals";

export function AssetPage() {
  const { symbol = "" } = useParams();
  const asset = useAsset(symbol);
  const history = useQuoteHistory(symbol);
  const live = useLiveQuotes([symbol])(symbol);

  const points = useMemo(() => {
    const out: { time: number; value: number }[] = [];
    for (const p of history.data?.points ?? []) {
      const v = toNumber(p.price);
      if (v !== null) out.push({ time: new Date(p.as_of).getTime() / 1000, value: v });
    }
    for (const b of history.data?.bars ?? []) {
      const bar = b as { start?: string; close?: string };
      const v = toNumber(bar.close);
      if (v !== null && bar.start) out.push({ time: new Date(bar.start).getTime() / 1000, value: v });
    }
    if (live?.price && live.as_of) {
      const v = toNumber(live.price);
      if (v !== null) out.push({ time: new Date(live.as_of).getTime() / 1000, value: v });
    }
    return out;
  }, [history.data, live]);
  const historySim = (history.data?.points ?? []).some((p) => p.source === "sim");

  return (
    <QueryState query={asset}>
      {(a) => {
        const quote = live ?? a.quote ?? null;
        const change = live ? live.change_percent : (a.quote?.change_percent ?? a.quote?.change_24h_percent);
        return (
          <section>
            <div className="page-head">
              <div>
                <h1>
                  {a.symbol} <span className="muted">{a.name}</span>
                </h1>
                <p className="muted">
                  {a.asset_class}
                  {a.exchange ? ` · ${a.exchange}` : ""}
                  {a.sector ? ` · ${a.sector}` : ""} <StatusBadge status={a.validation_status} />
                </p>
              </div>
              <div className="quote-big" aria-live="polite">
                {quote ? (
                  <>
                    <span className="num big">{formatPrice(quote.price)}</span>{" "}
                    <span className={signClass(change)}>{formatPercent(change, { alreadyPercent: true })}</span>{" "}
                    <FreshnessBadge asOf={quote.as_of} /> <SourceBadge source={quote.source} />
                  </>
                ) : (
                  <span className="muted">No quote yet; it is on its way.</span>
                )}
              </div>
            </div>
            <div className="card">
              <h2>
                Price history {historySim && <SourceBadge source="sim" />}
              </h2>
              {history.isPending ? (
                <p className="muted">Loading history…</p>
              ) : (
                <Chart points={points} label={`${a.symbol} price history`} emptyText="No price history yet" />
              )}
            </div>
            <div className="card">
              <h2>Profile {a.profile && <SourceBadge source={a.profile.source} />}</h2>
              <dl className="stats">
                <div><dt>Market cap</dt><dd>{formatCompact(a.profile?.market_cap ?? a.market_cap)}</dd></div>
                <div><dt>P/E</dt><dd>{formatPrice(a.profile?.pe_ratio ?? a.pe_ratio)}</dd></div>
                <div><dt>Dividend yield</dt><dd>{formatPercent(a.profile?.dividend_yield ?? a.dividend_yield, { alreadyPercent: true, signed: false })}</dd></div>
                <div><dt>Industry</dt><dd>{a.profile?.industry ?? a.industry ?? "—"}</dd></div>
                <div><dt>Country</dt><dd>{a.profile?.country ?? a.country ?? "—"}</dd></div>
                <div><dt>Currency</dt><dd>{a.currency ?? "—"}</dd></div>
              </dl>
              {a.profile?.description && <p>{a.profile.description}</p>}
              {(a.indices ?? []).length > 0 && <p className="muted">Member of {(a.indices ?? []).join(", ")}</p>}
            </div>
            <Fundamentals symbol={a.symbol} />
            <AssetFiles symbol={a.symbol} />
          </section>
        );
      }}
    </QueryState>
  );
}
