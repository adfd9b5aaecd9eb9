import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sortUniverses } from "../UniversesPage";
import { AddAssets } from "./AddAssets";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const hit = (symbol: string, name: string) => ({
  symbol, name, asset_class: "equity", exchange: "NASDAQ", country: "US", sector: null, currency: "USD", match: "prefix",
});

function serve() {
  const added: unknown[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      if (url.pathname === "/api/v1/assets/search")
        return json(200, { success: true, data: { items: [hit("APP", "AppLovin"), hit("AAPL", "Apple Inc.")], next_cursor: null } });
      if (url.pathname.endsWith("/assets") && request.method === "POST") {
        const body = (await request.json()) as { add: string[] };
        added.push(body);
        return json(200, {
          success: true,
          data: {
            universe_id: "u1",
            results: body.add.map((s) => ({ input: s, action: "add", symbol: s, status: "added", reason: null })),
            counts: {},
            asset_count: 1,
          },
        });
      }
      return json(404, { success: false, message: "Not found" });
    }),
  );
  return added;
}

afterEach(() => vi.unstubAllGlobals());

describe("adding assets from the keyboard", () => {
  it("moves through the suggestions with the arrows and adds with Enter", async () => {
    const added = serve();
    render(
      <QueryClientProvider client={new QueryClient()}>
        <AddAssets universeId="u1" />
      </QueryClientProvider>,
    );
    const box = screen.getByRole("combobox", { name: "Add an asset" });
    await userEvent.type(box, "ap");
    expect(await screen.findByRole("option", { name: /AAPL/ })).toBeInTheDocument();
    expect(screen.getByRole("option", { name: /APP/ })).toHaveAttribute("aria-selected", "true");
    await userEvent.keyboard("{ArrowDown}");
    expect(screen.getByRole("option", { name: /AAPL/ })).toHaveAttribute("aria-selected", "true");
    expect(box).toHaveAttribute("aria-activedescendant", screen.getByRole("option", { name: /AAPL/ }).id);
    await userEvent.keyboard("{Enter}");
    expect(await screen.findByText("AAPL added")).toBeInTheDocument();
    expect(added).toEqual([{ add: ["AAPL"], remove: [] }]);
    await userEvent.type(box, "x{Escape}");
    expect(screen.queryByRole("listbox")).toBeNull();
  });
});

describe("the universes list", () => {
  const u = (name: string, asset_count: number, updated_at: string) => ({
    id: name, name, description: null, asset_count, created_at: updated_at, updated_at,
  });
  const items = [u("b", 5, "2026-01-02"), u("a", 50, "2026-01-01"), u("c", 1, "2026-01-03")];

  it("sorts by name, by asset count and by update time, both ways", () => {
    expect(sortUniverses(items, "name", true).map((x) => x.name)).toEqual(["a", "b", "c"]);
    expect(sortUniverses(items, "asset_count", false).map((x) => x.name)).toEqual(["a", "b", "c"]);
    expect(sortUniverses(items, "asset_count", true).map((x) => x.name)).toEqual(["c", "b", "a"]);
    expect(sortUniverses(items, "updated_at", false).map((x) => x.name)).toEqual(["c", "b", "a"]);
  });
});
