import { Link, useNavigate } from "react-router";
import { Empty, QueryState } from "@/components/State";
import { formatAge, formatDateTime } from "@/lib/format";
import { useVaults, type Vault } from "./api";
import { RegisterVault } from "./components/RegisterVault";

export function vaultLocation(v: Vault): string {
  if (v.kind === "local") return v.root ?? "—";
  return `s3://${v.bucket ?? ""}/${v.prefix ?? ""}${v.endpoint_url ? ` (${v.endpoint_url})` : ""}`;
}

/** Your research vaults, and registering another. */
export function VaultsPage() {
  const vaults = useVaults();
  const navigate = useNavigate();
  return (
    <section>
      <h1>Research vault</h1>
      <QueryState
        query={vaults}
        loadingLabel="Loading vaults…"
        isEmpty={(page) => page.items.length === 0}
        empty={<Empty title="No vaults yet">Register a local folder or an S3 bucket below to organise your research files.</Empty>}
      >
        {(page) => (
          <div className="table-wrap">
            <table aria-label="Vaults">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Storage</th>
                  <th scope="col" className="hide-sm">Location</th>
                  <th scope="col">Last scan</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((v) => (
                  <tr key={v.id}>
                    <td>
                      <Link to={`/vault/${v.id}`}>{v.name}</Link>
                    </td>
                    <td>
                      {v.kind === "s3" ? "S3" : "local"}
                      {v.kind === "s3" && <span className="muted small"> · {v.has_credentials ? "credentials set" : "no credentials"}</span>}
                    </td>
                    <td className="hide-sm path">{vaultLocation(v)}</td>
                    <td title={formatDateTime(v.last_scan_at)}>{v.last_scan_at ? formatAge(v.last_scan_at) : "never"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      <RegisterVault onCreated={(v) => navigate(`/vault/${v.id}`)} />
    </section>
  );
}
