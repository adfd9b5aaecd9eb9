import { useState } from "react";
import { Link } from "react-router";
import { Empty, ErrorState, Loading } from "@/components/State";
import { useDebounced } from "@/features/assets/api";
import { formatDateTime } from "@/lib/format";
import { formatBytes, useVaultCategories, useVaultFiles } from "../api";
import { DownloadButton } from "./DownloadButton";

/** The vault's inventory by category and by symbol, searchable, a page at a time. */
export function FileBrowser({ vaultId }: { vaultId: string }) {
  const [category, setCategory] = useState("");
  const [symbol, setSymbol] = useState("");
  const [q, setQ] = useState("");
  const filters = useDebounced({ category, symbol, q }, 250);
  const categories = useVaultCategories(vaultId);
  const files = useVaultFiles(vaultId, filters);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const items = files.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <section className="card" aria-labelledby="files-title">
      <h2 id="files-title">Files</h2>
      <div className="filters" role="search" aria-label="Filter files">
        <label>
          Category
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">all</option>
            {(categories.data ?? []).map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Symbol
          <input value={symbol} onChange={(e) => setSymbol(e.target.value)} placeholder="AAPL" maxLength={32} />
        </label>
        <label>
          Search paths
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="10-K" maxLength={200} />
        </label>
      </div>
      {downloadError && (
        <p className="form-error" role="alert">
          {downloadError}
        </p>
      )}
      {files.isPending ? (
        <Loading label="Loading files…" />
      ) : files.error && items.length === 0 ? (
        <ErrorState error={files.error} onRetry={() => void files.refetch()} />
      ) : items.length === 0 ? (
        <Empty title={category || symbol || q ? "No file matches" : "No files in the inventory"}>
          {category || symbol || q ? "Try another filter." : "Upload files or scan the vault to list them here."}
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table aria-label="Vault files">
              <thead>
                <tr>
                  <th scope="col">Path</th>
                  <th scope="col">Category</th>
                  <th scope="col" className="hide-sm">Symbol</th>
                  <th scope="col" className="num hide-sm">Size</th>
                  <th scope="col" className="hide-sm">Modified</th>
                  <th scope="col">
                    <span className="sr-only">Download</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((f) => (
                  <tr key={f.path}>
                    <td className="path">{f.path}</td>
                    <td>
                      <button type="button" className="link" onClick={() => setCategory(f.category ?? "other")}>
                        {f.category ?? "other"}
                      </button>
                    </td>
                    <td className="hide-sm">{f.symbol ? <Link to={`/assets/${f.symbol}`}>{f.symbol}</Link> : "—"}</td>
                    <td className="num hide-sm">{formatBytes(f.size)}</td>
                    <td className="hide-sm">{formatDateTime(f.mtime)}</td>
                    <td>
                      <DownloadButton vaultId={vaultId} path={f.path} onError={setDownloadError} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small" aria-live="polite">
            {items.length.toLocaleString("en-US")} file(s) shown{files.hasNextPage ? ", more to load" : ""}
          </p>
          {files.hasNextPage && (
            <button type="button" disabled={files.isFetchingNextPage} onClick={() => void files.fetchNextPage()}>
              {files.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          )}
        </>
      )}
    </section>
  );
}
