import { useId, useState, type KeyboardEvent } from "react";
import { describeError, type Schemas } from "@/lib/api";
import { useAssetSearch, useDebounced } from "@/features/assets/api";
import { useChangeMembers, useSymbolValidation } from "../api";

type SymbolResult = Schemas["SymbolResult"];

const OUTCOME: Record<string, string> = {
  added: "added",
  added_pending: "added; its validation is pending",
  already_present: "already in the universe",
  removed: "removed",
  not_present: "was not in the universe",
  unknown_symbol: "is not a known symbol",
  invalid_format: "is not a valid symbol",
};

export function describeResult(r: SymbolResult): string {
  const what = OUTCOME[r.status] ?? r.status.replace(/_/g, " ");
  return `${r.symbol ?? r.input} ${what}${r.reason ? `: ${r.reason}` : ""}`;
}

/** Typeahead over the catalog; Enter adds the highlighted asset, or validates what was typed. */
export function AddAssets({ universeId }: { universeId: string }) {
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [notes, setNotes] = useState<string[]>([]);
  const q = useDebounced(text, 200);
  const search = useAssetSearch({ q, limit: 8 }, open);
  const change = useChangeMembers(universeId);
  const validate = useSymbolValidation();
  const listId = useId();
  const busy = change.isPending || validate.isPending;
  const hits = open && q.trim() ? (search.data?.items ?? []) : [];

  async function add(symbol: string) {
    if (busy) return;
    setOpen(false);
    setText("");
    try {
      const result = await change.mutateAsync({ add: [symbol] });
      setNotes(result.results.map(describeResult));
    } catch (err) {
      setNotes([describeError(err)]);
    }
  }

  async function addTyped() {
    const symbol = text.trim().toUpperCase();
    if (!symbol) return;
    try {
      const batch = await validate.mutateAsync([symbol]);
      const result = batch.results[0];
      if (result && result.valid === false) {
        setNotes([`${symbol} is not valid${result.reason ? `: ${result.reason}` : ""}`]);
        return;
      }
      await add(result?.canonical_symbol ?? symbol);
    } catch (err) {
      setNotes([describeError(err)]);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((i) => Math.min(i + 1, Math.max(hits.length - 1, 0)));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (event.key === "Enter") {
      event.preventDefault();
      const hit = hits[active];
      if (hit) void add(hit.symbol);
      else void addTyped();
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  }

  return (
    <div className="typeahead">
      <label htmlFor={`${listId}-input`}>Add an asset</label>
      <input
        id={`${listId}-input`}
        role="combobox"
        aria-expanded={hits.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={hits[active] ? `${listId}-${active}` : undefined}
        placeholder="Symbol or company name (AAPL, bitcoin…)"
        value={text}
        autoComplete="off"
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)} // options add on mouse-down, before a blur
        aria-busy={busy}
      />
      {hits.length > 0 && (
        <ul id={listId} role="listbox" className="typeahead-list">
          {hits.map((hit, i) => (
            <li
              key={hit.symbol}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : ""}
              onMouseDown={(e) => {
                e.preventDefault();
                void add(hit.symbol);
              }}
            >
              <strong>{hit.symbol}</strong> <span>{hit.name}</span>
              <span className="muted small">
                {" "}
                {hit.asset_class}
                {hit.exchange ? ` · ${hit.exchange}` : ""}
              </span>
            </li>
          ))}
        </ul>
      )}
      {open && q.trim() && !search.isFetching && search.data && hits.length === 0 && (
        <p className="muted small">No catalog match: press Enter to validate “{text.trim().toUpperCase()}” with the providers.</p>
      )}
      {busy && <p className="muted small" role="status">Checking…</p>}
      {notes.length > 0 && (
        <ul className="notes" aria-live="polite">
          {notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
