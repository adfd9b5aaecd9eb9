import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { moveItem, type Member } from "../api";
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

function renderTable(onRemove = vi.fn(), onMove?: (from: number, to: number) => void) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <MembersTable members={members} onRemove={onRemove} removing={null} {...(onMove ? { onMove } : {})} />
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

describe("reordering members", () => {
  it("moves a member up or down with its buttons, from the keyboard too", async () => {
    const onMove = vi.fn();
    renderTable(vi.fn(), onMove);
    const [, first, second] = screen.getAllByRole("row");
    expect(within(first!).getByRole("button", { name: "Move SYM0 up" })).toBeDisabled();
    await userEvent.click(within(first!).getByRole("button", { name: "Move SYM0 down" }));
    expect(onMove).toHaveBeenLastCalledWith(0, 1);
    within(second!).getByRole("button", { name: "Move SYM1 up" }).focus();
    await userEvent.keyboard("{Enter}");
    expect(onMove).toHaveBeenLastCalledWith(1, 0);
  });

  it("moves a dragged row to where it is dropped", () => {
    const onMove = vi.fn();
    renderTable(vi.fn(), onMove);
    const rows = screen.getAllByRole("row");
    const dataTransfer = { setData: vi.fn(), effectAllowed: "" };
    fireEvent.dragStart(rows[1]!, { dataTransfer });
    fireEvent.dragOver(rows[4]!, { dataTransfer });
    fireEvent.drop(rows[4]!, { dataTransfer });
    expect(onMove).toHaveBeenCalledWith(0, 3);
  });

  it("offers no move buttons when the table cannot be reordered (a filtered view)", () => {
    renderTable();
    expect(screen.queryByRole("button", { name: "Move SYM0 down" })).toBeNull();
  });

  it("moveItem puts the item at its new place and keeps every other in order", () => {
    expect(moveItem(["a", "b", "c", "d"], 0, 2)).toEqual(["b", "c", "a", "d"]);
    expect(moveItem(["a", "b", "c", "d"], 3, 0)).toEqual(["d", "a", "b", "c"]);
    expect(moveItem(["a", "b"], 0, 5)).toEqual(["a", "b"]);
  });
});
