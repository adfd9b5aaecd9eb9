import { describe, expect, it } from "vitest";
import { LiveMarket } from "./live";
import type { openLiveSocket } from "@/lib/ws";

function fakeSocket() {
  const sent: unknown[] = [];
  let closed = 0;
  let handlers: Parameters<typeof openLiveSocket>[1] | null = null;
  const open = ((_path: string, h: Parameters<typeof openLiveSocket>[1]) => {
    handlers = h;
    return { send: (m: unknown) => sent.push(m), close: () => (closed += 1) };
  }) as typeof openLiveSocket;
  return { open, sent, closed: () => closed, handlers: () => handlers };
}

describe("the live market store", () => {
  it("subscribes a symbol once however many views watch it, and unsubscribes after the last", () => {
    const socket = fakeSocket();
    const market = new LiveMarket(socket.open);
    const stopA = market.watch(["AAPL", "BTC-USD"]);
    const stopB = market.watch(["AAPL"]);
    expect(socket.sent).toEqual([{ action: "subscribe", symbols: ["AAPL", "BTC-USD"], types: ["quote"] }]);
    stopA();
    expect(socket.sent.at(-1)).toEqual({ action: "unsubscribe", symbols: ["BTC-USD"] });
    stopB();
    expect(socket.sent.at(-1)).toEqual({ action: "unsubscribe", symbols: ["AAPL"] });
    expect(socket.closed()).toBe(1);
  });

  it("keeps the latest pushed quote with its source, and resubscribes after a reconnect", () => {
    const socket = fakeSocket();
    const market = new LiveMarket(socket.open);
    market.watch(["AAPL"]);
    let renders = 0;
    market.subscribe(() => (renders += 1));
    market.receive({ type: "subscribed", pairs: [] });
    market.receive({
      type: "data",
      symbol: "AAPL",
      data_type: "quote",
      value: { price: "230.42", change_percent: "1.5" },
      source: "sim",
      as_of: "2026-01-01T00:00:00Z",
    });
    expect(renders).toBe(1);
    expect(market.quote("AAPL")).toEqual({
      symbol: "AAPL",
      price: "230.42",
      change_percent: "1.5",
      source: "sim",
      as_of: "2026-01-01T00:00:00Z",
    });
    const reopened: unknown[] = [];
    socket.handlers()?.onOpen?.({ send: (m) => reopened.push(m), close: () => {} });
    expect(reopened).toEqual([{ action: "subscribe", symbols: ["AAPL"], types: ["quote"] }]);
  });
});
