import { describe, expect, it } from "vitest";
import { EMPTY_TICKET, estimatedCost, explainRejection, ticketProblems, toOrderRequest, type Ticket } from "./ticket";

const ctx = { buyingPower: 1000, price: 100, held: 2 };
const ticket = (patch: Partial<Ticket>): Ticket => ({ ...EMPTY_TICKET, symbol: "AAPL", amount: "1", ...patch });

describe("the order ticket's rules", () => {
  it("accepts a plain market buy within buying power", () => {
    expect(ticketProblems(ticket({}), ctx)).toEqual([]);
  });

  it("explains each missing or wrong field", () => {
    expect(ticketProblems(ticket({ symbol: "", amount: "0" }), ctx)).toEqual([
      "Choose a symbol.",
      "Enter a quantity above zero.",
    ]);
    expect(ticketProblems(ticket({ type: "limit" }), ctx)).toContain("A limit order needs a limit price above zero.");
    expect(ticketProblems(ticket({ type: "stop_limit", limitPrice: "99" }), ctx)).toEqual([
      "A stop order needs a stop price above zero.",
    ]);
    expect(ticketProblems(ticket({ type: "limit", limitPrice: "90", sizeBy: "notional" }), ctx)[0]).toMatch(
      /only with a market order/,
    );
  });

  it("warns before a buy beyond the buying power and a sell beyond the holding", () => {
    expect(ticketProblems(ticket({ amount: "20" }), ctx)[0]).toMatch(/needs about 2000.00 but the buying power is 1000.00/);
    expect(ticketProblems(ticket({ side: "sell", amount: "3" }), ctx)[0]).toMatch(/You hold 2 AAPL/);
  });

  it("estimates at the limit, the stop or the last price", () => {
    expect(estimatedCost(ticket({ amount: "3" }), 100)).toBe(300);
    expect(estimatedCost(ticket({ amount: "3", type: "limit", limitPrice: "90" }), 100)).toBe(270);
    expect(estimatedCost(ticket({ amount: "3", type: "stop", stopPrice: "110" }), 100)).toBe(330);
    expect(estimatedCost(ticket({ amount: "250", sizeBy: "notional" }), 100)).toBe(250);
  });

  it("sends only the fields its type uses", () => {
    expect(toOrderRequest(ticket({ symbol: " btc-usd ", type: "limit", limitPrice: "10", stopPrice: "9" }))).toEqual({
      symbol: "BTC-USD",
      side: "buy",
      type: "limit",
      time_in_force: "day",
      qty: "1",
      notional: null,
      limit_price: "10",
      stop_price: null,
    });
  });

  it("turns a rejection reason into advice", () => {
    expect(explainRejection("quote_stale", "no fresh quote for AAPL")).toMatch(/^no fresh quote for AAPL .*limit order/);
    expect(explainRejection(null, null)).toBe("The order was rejected.");
  });
});
