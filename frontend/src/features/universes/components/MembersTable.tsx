import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { FreshnessBadge, SourceBadge, StatusBadge } from "@/components/Badges";
import { useStoredQuote } from "@/features/market/api";
import { useLiveQuotes, type LiveQuote } from "@/features/market/live";
import { formatPrice } from "@/lib/format";
import type { Member } from "../api";

const ROW_HEIGHT = 44;
const MAX_HEIGHT = 640;

function PriceCell({ symbol, live, paused }: { symbol: string; live: LiveQuote | undefined; paused: boolean }) {
  const stored = useStoredQuote(symbol, !live && !paused);
  const quote = live ?? stored.data ?? null;
  if (!quote) return <span className="muted">{stored.isPending ? "…" : "—"}</span>;
  return (
    <span className="price-cell">
      <span className="num">{formatPrice(quote.price)}</span> <FreshnessBadge asOf={quote.as_of} />{" "}
      <SourceBadge source={quote.source} />
    </span>
  );
}

/** Only the rows on screen are in the DOM (and watched live), so 5,000 members stay quick. */
export function MembersTable({
  members,
  onRemove,
  removing,
  onMove,
}: {
  members: Member[];
  onRemove: (symbol: string) => void;
  removing: string | null;
  /** Given: rows can be dragged, or moved with their up/down buttons (the keyboard's way). */
  onMove?: (from: number, to: number) => void;
}) {
  const [dragFrom, setDragFrom] = useState<number | null>(null);
  const [dragOver, setDragOver] = useState<number | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: members.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    initialRect: { width: 1000, height: 600 },
  });
  const items = virtualizer.getVirtualItems();
  const visible = useMemo(
    () => items.map((i) => members[i.index]?.symbol).filter((s): s is string => Boolean(s)),
    // Recomputed when the window of rows moves, not on every render.
    [items.map((i) => i.index).join(","), members],
  );
  // While scrolling, rows fly past: ask for their quotes (and watch them) once it settles.
  const settled = useRef<string[]>([]);
  if (!virtualizer.isScrolling) settled.current = visible;
  const quote = useLiveQuotes(settled.current);

  return (
    <div className="vtable" role="table" aria-label="Assets" aria-rowcount={members.length + 1}>
      <div role="rowgroup">
      <div className="vrow vhead" role="row">
        <span role="columnheader">Symbol</span>
        <span role="columnheader" className="hide-sm">Name</span>
        <span role="columnheader" className="hide-sm">Exchange</span>
        <span role="columnheader" className="hide-sm">Class</span>
        <span role="columnheader" className="hide-sm">Sector</span>
        <span role="columnheader" className="hide-sm">Validation</span>
        <span role="columnheader">Last price</span>
        <span role="columnheader"><span className="sr-only">Actions</span></span>
      </div>
      </div>
      <div
        className="vbody"
        role="rowgroup"
        ref={scroller}
        tabIndex={0}
        aria-label="Assets, scrollable"
        style={{ height: Math.min(members.length * ROW_HEIGHT + 2, MAX_HEIGHT) }}
      >
        <div role="presentation" style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const m = members[item.index];
            if (!m) return null;
            return (
              <div
                key={m.symbol}
                role="row"
                aria-rowindex={item.index + 2}
                className={dragOver === item.index && dragFrom !== item.index ? "vrow drag-over" : "vrow"}
                draggable={Boolean(onMove)}
                onDragStart={(e) => {
                  setDragFrom(item.index);
                  e.dataTransfer.effectAllowed = "move";
                  e.dataTransfer.setData("text/plain", m.symbol);
                }}
                onDragOver={(e) => {
                  if (dragFrom === null) return;
                  e.preventDefault();
                  setDragOver(item.index);
                }}
                onDrop={(e) => {
                  e.preventDefault();
                  if (dragFrom !== null && onMove) onMove(dragFrom, item.index);
                  setDragFrom(null);
                  setDragOver(null);
                }}
                onDragEnd={() => {
                  setDragFrom(null);
                  setDragOver(null);
                }}
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
              >
                <span role="cell">
                  <Link to={`/assets/${encodeURIComponent(m.symbol)}`}>{m.symbol}</Link>
                </span>
                <span role="cell" className="ellipsis hide-sm" title={m.name}>{m.name}</span>
                <span role="cell" className="hide-sm">{m.exchange ?? "—"}</span>
                <span role="cell" className="hide-sm">{m.asset_class}</span>
                <span role="cell" className="hide-sm ellipsis">{m.sector ?? "—"}</span>
                <span role="cell" className="hide-sm"><StatusBadge status={m.validation_status} /></span>
                <span role="cell"><PriceCell symbol={m.symbol} live={quote(m.symbol)} paused={virtualizer.isScrolling} /></span>
                <span role="cell" className="move-cell">
                  {onMove && (
                    <>
                      <span className="drag-handle hide-sm" aria-hidden="true" title="Drag to reorder">
                        ⠿
                      </span>
                      <button
                        type="button"
                        className="ghost small"
                        aria-label={`Move ${m.symbol} up`}
                        disabled={item.index === 0}
                        onClick={() => onMove(item.index, item.index - 1)}
                      >
                        ↑
                      </button>
                      <button
                        type="button"
                        className="ghost small"
                        aria-label={`Move ${m.symbol} down`}
                        disabled={item.index === members.length - 1}
                        onClick={() => onMove(item.index, item.index + 1)}
                      >
                        ↓
                      </button>
                    </>
                  )}
                  <button
                    type="button"
                    className="ghost small"
                    aria-label={`Remove ${m.symbol}`}
                    disabled={removing === m.symbol}
                    onClick={() => onRemove(m.symbol)}
                  >
                    ✕
                  </button>
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
