import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Member } from "../api";
import { MembersTable } from "./MembersTable";

vi.mock("@/features/market/live", () => ({ useLiveQuotes: () => () => undefined }));
vi.mock("@/features/market/api", () => ({
  useStoredQuote: (symbol: string) => ({
    isPending: false,
    data: { symbol, price: "101.5", change_percent: null, source: "sim", as_of: new Date().toISOString() },
  }),
}));

const members: Member[] = Array.from({ length: 5000 }, (_, i) => ({
  symbol: `SYM${i}`,
  name: `Company ${i}`,
  asset_class: "equity",
  exchange: "NASDAQ",
  sector: "Technology",
  position: i,
  added_at: "2026-01-01T00:00:00Z",
  metadata: {},
  validation_status: "valid",
}));

// jsdom lays nothing out: give every element the size of a 600 px high viewport.
beforeAll(() => {
  vi.spyOn(HTMLElement.prototype, "getBoundingClientRect").mockReturnValue(
    DOMRect.fromRect({ x: 0, y: 0, width: 1000, height: 600 }),
  );
  vi.spyOn(HTMLElement.prototype, "offsetHeight", "get").mockReturnValue(600);
  vi.spyOn(HTMLElement.prototype, "offsetWidth", "get").mockReturnValue(1000);
  vi.spyOn(Element.prototype, "clientHeight", "get").mockReturnValue(600);
  vi.spyOn(Element.prototype, "clientWidth", "get").mockReturnValue(1000);
});

function renderTable(onRemove = vi.fn()) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <MembersTable members={members} onRemove={onRemove} removing={null} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return onRemove;
}

describe("the universe's members table", () => {
  it("puts only the rows on screen in the DOM, for 5,000 members", () => {
    const started = performance.now();
    renderTable();
    const elapsed = performance.now() - started;
    const rows = screen.getAllByRole("row").slice(1); // the header row first
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    expect(screen.getByRole("table")).toHaveAttribute("aria-rowcount", "5001");
    expect(screen.getByRole("link", { name: "SYM0" })).toHaveAttribute("href", "/assets/SYM0");
    expect(screen.queryByRole("link", { name: "SYM4999" })).toBeNull();
    expect(elapsed).toBeLessThan(1000);
  });

  it("labels simulated prices and removes a member by its button", async () => {
    const onRemove = renderTable();
    const first = screen.getAllByRole("row")[1]!;
    expect(within(first).getByText("simulated")).toBeInTheDocument();
    expect(within(first).getByText("101.50")).toBeInTheDocument();
    await userEvent.click(within(first).getByRole("button", { name: "Remove SYM0" }));
    expect(onRemove).toHaveBeenCalledWith("SYM0");
  });
});
