import { Link } from "react-router";
import { useState } from "react";
import { Empty, QueryState } from "@/components/State";
import { formatBytes, useAssetFiles } from "@/features/vault/api";
import { DownloadButton } from "@/features/vault/components/DownloadButton";
import { formatDateTime } from "@/lib/format";

/** The research files of every vault that name this asset. */
export function AssetFiles({ symbol }: { symbol: string }) {
  const files = useAssetFiles(symbol);
  const [error, setError] = useState<string | null>(null);
  return (
    <section className="card" aria-labelledby="asset-files-title">
      <h2 id="asset-files-title">Research files</h2>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <QueryState
        query={files}
        loadingLabel="Loading research files…"
        isEmpty={(p) => p.items.length === 0}
        empty={
          <Empty title={`No research files about ${symbol}`}>
            Files whose name or folder names {symbol} show here once a <Link to="/vault">vault</Link> is scanned.
          </Empty>
        }
      >
        {(p) => (
          <div className="table-wrap">
            <table aria-label="Research files">
              <thead>
                <tr>
                  <th scope="col">Path</th>
                  <th scope="col" className="hide-sm">Category</th>
                  <th scope="col" className="num hide-sm">Size</th>
                  <th scope="col" className="hide-sm">Modified</th>
                  <th scope="col">
                    <span className="sr-only">Download</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {p.items.map((f) => (
                  <tr key={`${f.vault_id}/${f.path}`}>
                    <td className="path">
                      <Link to={`/vault/${f.vault_id}`}>{f.path}</Link>
                    </td>
                    <td className="hide-sm">{f.category ?? "other"}</td>
                    <td className="num hide-sm">{formatBytes(f.size)}</td>
                    <td className="hide-sm">{formatDateTime(f.mtime)}</td>
                    <td>
                      <DownloadButton vaultId={f.vault_id} path={f.path} onError={setError} />
                    </td>
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
