/** The order ticket's rules, checked before sending so a person learns why at once. */
import type { OrderRequest } from "./api";

export type OrderType = OrderRequest["type"];
export type TimeInForce = NonNullable<OrderRequest["time_in_force"]>;

export interface Ticket {
  symbol: string;
  side: "buy" | "sell";
  type: OrderType;
  sizeBy: "qty" | "notional";
  amount: string;
  limitPrice: string;
  stopPrice: string;
  timeInForce: TimeInForce;
}

export const EMPTY_TICKET: Ticket = {
  symbol: "",
  side: "buy",
  type: "market",
  sizeBy: "qty",
  amount: "",
  limitPrice: "",
  stopPrice: "",
  timeInForce: "day",
};

const positive = (text: string) => /^\d*\.?\d+$/.test(text.trim()) && Number(text) > 0;

export const needsLimit = (type: OrderType) => type === "limit" || type === "stop_limit";
export const needsStop = (type: OrderType) => type === "stop" || type === "stop_limit";

/** Every reason the ticket cannot be sent as it is (empty: it can). */
export function ticketProblems(
  t: Ticket,
  context: { buyingPower: number | null; price: number | null; held: number | null },
): string[] {
  const problems: string[] = [];
  if (!t.symbol.trim()) problems.push("Choose a symbol.");
  if (!positive(t.amount))
    problems.push(t.sizeBy === "qty" ? "Enter a quantity above zero." : "Enter an amount of money above zero.");
  if (t.sizeBy === "notional" && t.type !== "market")
    problems.push("An amount of money (notional) works only with a market order; give a quantity instead.");
  if (needsLimit(t.type) && !positive(t.limitPrice)) problems.push("A limit order needs a limit price above zero.");
  if (needsStop(t.type) && !positive(t.stopPrice)) problems.push("A stop order needs a stop price above zero.");
  const estimate = estimatedCost(t, context.price);
  if (t.side === "buy" && estimate !== null && context.buyingPower !== null && estimate > context.buyingPower)
    problems.push(
      `This buy needs about ${estimate.toFixed(2)} but the buying power is ${context.buyingPower.toFixed(2)}; deposit cash or buy less.`,
    );
  if (t.side === "sell" && t.sizeBy === "qty" && positive(t.amount) && context.held !== null && Number(t.amount) > context.held)
    problems.push(`You hold ${context.held} ${t.symbol.toUpperCase()}; you cannot sell more (no short selling).`);
  return problems;
}

/** What the order would cost (buy) or bring (sell) at its limit, stop or the last price. */
export function estimatedCost(t: Ticket, price: number | null): number | null {
  if (!positive(t.amount)) return null;
  if (t.sizeBy === "notional") return Number(t.amount);
  const at = needsLimit(t.type)
    ? Number(t.limitPrice)
    : needsStop(t.type)
      ? Number(t.stopPrice)
      : price;
  return at && Number.isFinite(at) ? Number(t.amount) * at : null;
}

export function toOrderRequest(t: Ticket): OrderRequest {
  return {
    symbol: t.symbol.trim().toUpperCase(),
    side: t.side,
    type: t.type,
    time_in_force: t.timeInForce,
    qty: t.sizeBy === "qty" ? t.amount.trim() : null,
    notional: t.sizeBy === "notional" ? t.amount.trim() : null,
    limit_price: needsLimit(t.type) ? t.limitPrice.trim() : null,
    stop_price: needsStop(t.type) ? t.stopPrice.trim() : null,
  };
}

const REJECT_HELP: Record<string, string> = {
  quote_stale: "There is no fresh price for it right now; try again in a moment, or place a limit order.",
  market_closed: "Its exchange is closed; use a day or GTC order, which waits for the open.",
  insufficient_funds: "Not enough buying power; deposit cash or buy less.",
  insufficient_quantity: "You do not hold that much to sell.",
};

export function explainRejection(reason: string | null | undefined, message: string | null | undefined): string {
  const help = reason ? REJECT_HELP[reason] : undefined;
  return [message, help].filter(Boolean).join(" ") || "The order was rejected.";
}
