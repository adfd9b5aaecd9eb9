import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { Empty, QueryState } from "@/components/State";
import { describeError } from "@/lib/api";
import { formatAge, formatCount, formatDateTime } from "@/lib/format";
import { useCreateUniverse, useIndices, useUniverses, type UniverseSummary } from "./api";

type SortKey = "name" | "asset_count" | "updated_at";

export function sortUniverses(items: UniverseSummary[], key: SortKey, ascending: boolean) {
  const sorted = [...items].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return ascending ? order : -order;
  });
  return sorted;
}

export function CreateUniverse() {
  const create = useCreateUniverse();
  const indices = useIndices();
  const [name, setName] = useState("");
  const [index, setIndex] = useState("");
  function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    create.mutate(
      { name: name.trim(), description: null, from_index: index || null },
      { onSuccess: () => setName("") },
    );
  }
  return (
    <form className="inline-form" onSubmit={submit} aria-label="Create a universe">
      <label className="sr-only" htmlFor="new-universe">
        New universe name
      </label>
      <input
        id="new-universe"
        placeholder="New universe name"
        value={name}
        maxLength={200}
        onChange={(e) => setName(e.target.value)}
      />
      {indices.data && indices.data.items.length > 0 && (
        <>
          <label className="sr-only" htmlFor="new-universe-index">
            Start from an index
          </label>
          <select id="new-universe-index" value={index} onChange={(e) => setIndex(e.target.value)}>
            <option value="">empty, or from an index…</option>
            {indices.data.items.map((i) => (
              <option key={i.name} value={i.name}>
                {i.name} ({formatCount(i.member_count)})
              </option>
            ))}
          </select>
        </>
      )}
      <button type="submit" className="primary" disabled={create.isPending || !name.trim()}>
        Create universe
      </button>
      {create.error && (
        <p className="form-error" role="alert">
          {describeError(create.error)}
        </p>
      )}
    </form>
  );
}

export function UniversesPage() {
  const query = useUniverses();
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; ascending: boolean }>({ key: "updated_at", ascending: false });

  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const all = query.data ?? [];
    const kept = needle
      ? all.filter((u) => u.name.toLowerCase().includes(needle) || u.description?.toLowerCase().includes(needle))
      : all;
    return sortUniverses(kept, sort.key, sort.ascending);
  }, [query.data, filter, sort]);

  const header = (key: SortKey, label: string) => {
    const active = sort.key === key;
    return (
      <th aria-sort={active ? (sort.ascending ? "ascending" : "descending") : "none"} scope="col">
        <button
          type="button"
          className="sort"
          onClick={() => setSort({ key, ascending: active ? !sort.ascending : key === "name" })}
        >
          {label} {active ? (sort.ascending ? "▲" : "▼") : ""}
        </button>
      </th>
    );
  };

  return (
    <section>
      <div className="page-head">
        <h1>Universes</h1>
        <CreateUniverse />
      </div>
      <QueryState
        query={query}
        isEmpty={(items) => items.length === 0}
        empty={<Empty title="No universes yet">Name one above, then add assets to it.</Empty>}
      >
        {(items) => (
          <>
            <div className="toolbar">
              <label className="inline">
                Filter
                <input
                  type="search"
                  value={filter}
                  placeholder="name or description"
                  onChange={(e) => setFilter(e.target.value)}
                />
              </label>
              <span className="muted">
                {formatCount(rows.length)} of {formatCount(items.length)} universes ·{" "}
                {formatCount(items.reduce((n, u) => n + u.asset_count, 0))} assets
              </span>
            </div>
            {rows.length === 0 ? (
              <Empty title="No universe matches the filter" />
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      {header("name", "Name")}
                      {header("asset_count", "Assets")}
                      {header("updated_at", "Updated")}
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((u) => (
                      <tr key={u.id}>
                        <td>
                          <Link to={`/universes/${u.id}`}>{u.name}</Link>
                          {u.description && <div className="muted small">{u.description}</div>}
                        </td>
                        <td className="num">{formatCount(u.asset_count)}</td>
                        <td title={formatDateTime(u.updated_at)}>{formatAge(u.updated_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </QueryState>
    </section>
  );
}
