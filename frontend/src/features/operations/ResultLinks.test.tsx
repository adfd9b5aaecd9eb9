import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { Operation } from "./api";
import { resultFile } from "./api";
import { ResultLinks } from "./OperationsPage";

const op = (over: Partial<Operation>): Operation =>
  ({
    id: "0f3c2a1b-0000-4000-8000-000000000000",
    kind: "export_universe_csv",
    status: "succeeded",
    params: { universe_id: "u1" },
    progress: { done: 1, total: 1, percent: 100, message: null },
    result: {},
    ...over,
  }) as unknown as Operation;

describe("an operation's results", () => {
  it("offers the CSV of a succeeded export, and nothing of an unfinished one", () => {
    expect(resultFile(op({}))?.label).toBe("Download CSV");
    expect(resultFile(op({ status: "running" }))).toBeNull();
  });

  it("offers an import's row results once it has ended, even cancelled", () => {
    expect(resultFile(op({ kind: "import_universe_csv", status: "cancelled" }))?.label).toBe("Download row results");
    expect(resultFile(op({ kind: "import_universe_csv", status: "running" }))).toBeNull();
  });

  it("links a vault job to its vault, offers to undo an apply, and shows nothing for a job without results", () => {
    const client = new QueryClient();
    const wrap = (node: ReactNode) => (
      <QueryClientProvider client={client}>
        <MemoryRouter>{node}</MemoryRouter>
      </QueryClientProvider>
    );
    const { rerender } = render(
      wrap(<ResultLinks operation={op({ kind: "vault_apply", params: {}, result: { vault_id: "v9" } })} />),
    );
    expect(screen.getByRole("link", { name: "Open the vault" })).toHaveAttribute("href", "/vault/v9");
    expect(screen.getByRole("button", { name: "Roll back" })).toBeEnabled();
    rerender(wrap(<ResultLinks operation={op({ kind: "vault_scan", params: { vault_id: "v9" }, result: {} })} />));
    expect(screen.getByRole("link", { name: "Open the vault" })).toHaveAttribute("href", "/vault/v9");
    expect(screen.queryByRole("button", { name: "Roll back" })).toBeNull();
    rerender(wrap(<ResultLinks operation={op({ kind: "validate_symbols", params: {}, result: { valid: 3 } })} />));
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.queryByRole("link")).toBeNull();
  });
});
