import { useState, type FormEvent } from "react";
import { describeError } from "@/lib/api";
import { formatMoney, toNumber } from "@/lib/format";
import { useStoredQuote } from "@/features/market/api";
import { useLiveQuotes } from "@/features/market/live";
import { SourceBadge } from "@/components/Badges";
import { usePlaceOrder, type AccountDetail, type Order } from "../api";
import {
  EMPTY_TICKET,
  estimatedCost,
  explainRejection,
  needsLimit,
  needsStop,
  ticketProblems,
  toOrderRequest,
  type Ticket,
} from "../ticket";

function outcome(order: Order): { tone: "ok" | "bad" | "info"; text: string } {
  if (order.status === "rejected") return { tone: "bad", text: `Rejected: ${explainRejection(order.reject_reason, order.status_message)}` };
  if (order.status === "filled")
    return { tone: "ok", text: `Filled: ${order.side} ${order.filled_qty} ${order.symbol} at ${order.filled_avg_price ?? "—"}` };
  if (order.status === "canceled") return { tone: "bad", text: `Canceled: ${order.status_message ?? "it could not fill at once"}` };
  return { tone: "info", text: `${order.status.replace(/_/g, " ")}: ${order.side} ${order.qty ?? order.notional} ${order.symbol}${order.status_message ? ` (${order.status_message})` : ""}` };
}

export function OrderTicket({ account }: { account: AccountDetail }) {
  const [t, setT] = useState<Ticket>(EMPTY_TICKET);
  const [showProblems, setShowProblems] = useState(false);
  const place = usePlaceOrder(account.id);
  const symbol = t.symbol.trim().toUpperCase();
  const live = useLiveQuotes(symbol ? [symbol] : [])(symbol);
  const stored = useStoredQuote(symbol, Boolean(symbol) && !live);
  const quote = live ?? stored.data ?? null;
  const held = account.positions.find((p) => p.symbol === symbol);
  const context = {
    buyingPower: toNumber(account.buying_power),
    price: toNumber(quote?.price),
    held: held ? toNumber(held.qty) : 0,
  };
  const problems = ticketProblems(t, context);
  const estimate = estimatedCost(t, context.price);
  const set = (patch: Partial<Ticket>) => setT({ ...t, ...patch });

  function submit(event: FormEvent) {
    event.preventDefault();
    setShowProblems(true);
    if (problems.length) return;
    place.mutate(toOrderRequest(t), { onSuccess: () => setShowProblems(false) });
  }

  const result = place.data ? outcome(place.data) : null;
  return (
    <form className="card ticket" onSubmit={submit} aria-label="Order ticket">
      <h2>Order ticket</h2>
      <p className="muted">
        Buying power <strong>{formatMoney(account.buying_power, account.currency)}</strong>
      </p>
      <label>
        Symbol
        <input value={t.symbol} onChange={(e) => set({ symbol: e.target.value })} placeholder="AAPL" autoComplete="off" required />
      </label>
      {quote && (
        <p className="muted small">
          Last {quote.price} <SourceBadge source={quote.source} />
        </p>
      )}
      <fieldset className="segmented">
        <legend>Side</legend>
        {(["buy", "sell"] as const).map((side) => (
          <label key={side}>
            <input type="radio" name="side" value={side} checked={t.side === side} onChange={() => set({ side })} /> {side}
          </label>
        ))}
      </fieldset>
      <label>
        Type
        <select value={t.type} onChange={(e) => set({ type: e.target.value as Ticket["type"], sizeBy: e.target.value === "market" ? t.sizeBy : "qty" })}>
          <option value="market">market</option>
          <option value="limit">limit</option>
          <option value="stop">stop</option>
          <option value="stop_limit">stop-limit</option>
        </select>
      </label>
      <fieldset className="segmented">
        <legend>Size by</legend>
        <label>
          <input type="radio" name="sizeBy" checked={t.sizeBy === "qty"} onChange={() => set({ sizeBy: "qty" })} /> quantity
        </label>
        <label>
          <input
            type="radio"
            name="sizeBy"
            checked={t.sizeBy === "notional"}
            disabled={t.type !== "market"}
            onChange={() => set({ sizeBy: "notional" })}
          />{" "}
          amount ($)
        </label>
      </fieldset>
      <label>
        {t.sizeBy === "qty" ? "Quantity" : "Amount (USD)"}
        <input inputMode="decimal" value={t.amount} onChange={(e) => set({ amount: e.target.value })} />
      </label>
      {needsLimit(t.type) && (
        <label>
          Limit price
          <input inputMode="decimal" value={t.limitPrice} onChange={(e) => set({ limitPrice: e.target.value })} />
        </label>
      )}
      {needsStop(t.type) && (
        <label>
          Stop price
          <input inputMode="decimal" value={t.stopPrice} onChange={(e) => set({ stopPrice: e.target.value })} />
        </label>
      )}
      <label>
        Time in force
        <select value={t.timeInForce} onChange={(e) => set({ timeInForce: e.target.value as Ticket["timeInForce"] })}>
          <option value="day">day</option>
          <option value="gtc">good till cancelled</option>
          <option value="ioc">immediate or cancel</option>
          <option value="fok">fill or kill</option>
        </select>
      </label>
      {estimate !== null && (
        <p className="muted">
          Estimated {t.side === "buy" ? "cost" : "proceeds"} {formatMoney(estimate, account.currency)} (before fees and slippage)
        </p>
      )}
      {showProblems && problems.length > 0 && (
        <ul className="form-error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {place.error && (
        <p className="form-error" role="alert">
          {describeError(place.error)}
        </p>
      )}
      {result && (
        <p className={`result result-${result.tone}`} role="status">
          {result.text}
        </p>
      )}
      <button type="submit" className="primary" disabled={place.isPending}>
        {place.isPending ? "Sending…" : `Place ${t.side} order`}
      </button>
    </form>
  );
}
