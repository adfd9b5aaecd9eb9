import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AccountDetail } from "../api";
import { OrderTicket } from "./OrderTicket";

// No socket in a unit test: nothing is pushed live, quotes come from the stored-quote request.
vi.mock("@/features/market/live", async (importOriginal) => ({
  ...(await importOriginal<typeof import("@/features/market/live")>()),
  useLiveQuotes: () => () => undefined,
}));

const account: AccountDetail = {
  id: "11111111-1111-1111-1111-111111111111",
  name: "Paper",
  currency: "USD",
  cash: "1000",
  reserved: "0",
  buying_power: "1000",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  long_market_value: "0",
  equity: "1000",
  positions: [],
};

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function serve(orderAnswer: () => Response) {
  const placed: unknown[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      if (url.pathname.startsWith("/api/v1/market/data/"))
        return json(200, {
          success: true,
          data: { symbol: "AAPL", values: [{ data_type: "quote", value: { price: "100" }, source: "sim", as_of: new Date().toISOString(), stale: false, queued: false }] },
        });
      if (url.pathname.endsWith("/orders") && request.method === "POST") {
        placed.push(await request.json());
        return orderAnswer();
      }
      return json(404, { success: false, message: "Not found" });
    }),
  );
  return placed;
}

function renderTicket() {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <OrderTicket account={account} />
    </QueryClientProvider>,
  );
}

afterEach(() => vi.unstubAllGlobals());

describe("the order ticket", () => {
  it("explains what is missing and sends nothing", async () => {
    const placed = serve(() => json(201, {}));
    renderTicket();
    await userEvent.type(screen.getByRole("textbox", { name: "Symbol" }), "AAPL");
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Type" }), "limit");
    await userEvent.click(screen.getByRole("button", { name: "Place buy order" }));
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("Enter a quantity above zero.");
    expect(alert).toHaveTextContent("A limit order needs a limit price above zero.");
    expect(placed).toEqual([]);
  });

  it("shows the buying power and warns before a buy beyond it, at the last simulated price", async () => {
    serve(() => json(201, {}));
    renderTicket();
    expect(screen.getByText("$1,000.00")).toBeInTheDocument();
    await userEvent.type(screen.getByRole("textbox", { name: "Symbol" }), "AAPL");
    await screen.findByText("simulated");
    await userEvent.type(screen.getByRole("textbox", { name: "Quantity" }), "20");
    expect(screen.getByText(/Estimated cost \$2,000.00/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Place buy order" }));
    expect(screen.getByRole("alert")).toHaveTextContent("needs about 2000.00 but the buying power is 1000.00");
  });

  it("explains an order the server recorded as rejected", async () => {
    const placed = serve(() =>
      json(201, {
        success: true,
        data: {
          id: "o1", account_id: account.id, client_order_id: "c1", symbol: "AAPL", asset_class: "equity",
          side: "buy", type: "market", time_in_force: "day", qty: "1", notional: null, limit_price: null,
          stop_price: null, status: "rejected", reject_reason: "quote_stale",
          status_message: "no fresh quote for AAPL (no quote)", filled_qty: "0", filled_avg_price: null,
          reserved_cash: "0", reserved_qty: "0", created_at: "2026-01-01T00:00:00Z", fills: [],
        },
      }),
    );
    renderTicket();
    await userEvent.type(screen.getByRole("textbox", { name: "Symbol" }), "aapl");
    await userEvent.type(screen.getByRole("textbox", { name: "Quantity" }), "1");
    await userEvent.click(screen.getByRole("button", { name: "Place buy order" }));
    expect(await screen.findByRole("status")).toHaveTextContent(
      "Rejected: no fresh quote for AAPL (no quote) There is no fresh price for it right now",
    );
    expect(placed).toEqual([
      { symbol: "AAPL", side: "buy", type: "market", time_in_force: "day", qty: "1", notional: null, limit_price: null, stop_price: null },
    ]);
  });

  it("shows the server's refusal with the field it names", async () => {
    serve(() =>
      json(422, {
        success: false,
        data: null,
        message: "Insufficient buying power",
        error: { code: "insufficient_funds", details: [{ field: "qty", reason: "needs 1500.00, has 1000.00" }] },
      }),
    );
    renderTicket();
    await userEvent.type(screen.getByRole("textbox", { name: "Symbol" }), "AAPL");
    await userEvent.type(screen.getByRole("textbox", { name: "Quantity" }), "1");
    await userEvent.click(screen.getByRole("button", { name: "Place buy order" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Insufficient buying power (qty: needs 1500.00, has 1000.00)",
    );
  });
});
