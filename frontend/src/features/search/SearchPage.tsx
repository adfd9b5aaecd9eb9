import { useState } from "react";
import { Link } from "react-router";
import { Empty, ErrorState, Loading } from "@/components/State";
import { formatCount } from "@/lib/format";
import { ASSET_CLASSES, useAssetSearch, useDebounced, useSectors, type AssetClass } from "@/features/assets/api";

export function SearchPage() {
  const [q, setQ] = useState("");
  const [assetClass, setAssetClass] = useState<AssetClass | "">("");
  const [exchange, setExchange] = useState("");
  const [sector, setSector] = useState("");
  const filters = {
    q: useDebounced(q),
    asset_class: assetClass,
    exchange: useDebounced(exchange.trim().toUpperCase()),
    sector,
    limit: 100,
  };
  const search = useAssetSearch(filters);
  const sectors = useSectors();
  const asked = Boolean(filters.q.trim() || assetClass || filters.exchange || sector);

  return (
    <section>
      <h1>Search the catalog</h1>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Symbol or name
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="AAPL, apple, bitcoin…" autoFocus />
        </label>
        <label>
          Class
          <select value={assetClass} onChange={(e) => setAssetClass(e.target.value as AssetClass | "")}>
            <option value="">any</option>
            {ASSET_CLASSES.map((c) => (
              <option key={c} value={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          Exchange
          <input value={exchange} onChange={(e) => setExchange(e.target.value)} placeholder="NASDAQ, NYSE…" />
        </label>
        <label>
          Sector
          <select value={sector} onChange={(e) => setSector(e.target.value)}>
            <option value="">any</option>
            {(sectors.data?.items ?? []).map((s) => (
              <option key={s.sector} value={s.sector}>
                {s.sector} ({formatCount(s.asset_count)})
              </option>
            ))}
          </select>
        </label>
      </form>
      {!asked ? (
        <Empty title="Type a symbol or a name, or pick a filter" />
      ) : search.isPending ? (
        <Loading label="Searching…" />
      ) : search.error ? (
        <ErrorState error={search.error} onRetry={() => void search.refetch()} />
      ) : (search.data?.items.length ?? 0) === 0 ? (
        <Empty title="Nothing matches" />
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Search results</caption>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col">Name</th>
                <th scope="col">Class</th>
                <th scope="col" className="hide-sm">Exchange</th>
                <th scope="col" className="hide-sm">Sector</th>
              </tr>
            </thead>
            <tbody>
              {search.data?.items.map((hit) => (
                <tr key={hit.symbol}>
                  <td><Link to={`/assets/${encodeURIComponent(hit.symbol)}`}>{hit.symbol}</Link></td>
                  <td>{hit.name}</td>
                  <td>{hit.asset_class}</td>
                  <td className="hide-sm">{hit.exchange ?? "—"}</td>
                  <td className="hide-sm">{hit.sector ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
