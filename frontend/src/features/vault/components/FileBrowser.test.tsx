import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { FileFilters, VaultFile } from "../api";
import { FileBrowser } from "./FileBrowser";

const file = (path: string, category: string, symbol: string | null = null): VaultFile => ({
  vault_id: "v1",
  path,
  size: 2048,
  mtime: "2026-01-02T00:00:00Z",
  inode: null,
  extension: path.split(".").pop() ?? "",
  mime: null,
  category,
  symbol,
  content_hash: null,
});

const state = {
  pages: [{ items: [file("AAPL_10-K_2023.pdf", "filings", "AAPL"), file("notes.md", "research")], next_cursor: "c1" }],
  hasNextPage: true,
};
const fetchNextPage = vi.fn();
const seen: FileFilters[] = [];
const downloadFile = vi.fn(async () => undefined);

vi.mock("../api", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api")>()),
  useVaultCategories: () => ({ data: ["filings", "research", "other"] }),
  useVaultFiles: (_id: string, filters: FileFilters) => {
    seen.push(filters);
    return {
      isPending: false,
      error: null,
      data: { pages: state.pages },
      hasNextPage: state.hasNextPage,
      isFetchingNextPage: false,
      fetchNextPage,
      refetch: vi.fn(),
    };
  },
  downloadFile: (...args: unknown[]) => downloadFile(...(args as [])),
}));

const renderBrowser = () =>
  render(
    <MemoryRouter>
      <FileBrowser vaultId="v1" />
    </MemoryRouter>,
  );

describe("the vault's file browser", () => {
  beforeEach(() => {
    seen.length = 0;
    fetchNextPage.mockClear();
  });

  it("lists a page of files, loads the next one on demand and downloads a file", async () => {
    renderBrowser();
    const rows = within(screen.getByRole("table", { name: "Vault files" })).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("2 KB");
    expect(within(rows[0]!).getByRole("link", { name: "AAPL" })).toHaveAttribute("href", "/assets/AAPL");
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    expect(fetchNextPage).toHaveBeenCalledOnce();
    await userEvent.click(screen.getByRole("button", { name: "Download notes.md" }));
    expect(downloadFile).toHaveBeenCalledWith("v1", "notes.md");
  });

  it("filters by category (also from a file's category) and by symbol", async () => {
    renderBrowser();
    await userEvent.click(screen.getByRole("button", { name: "research" }));
    await userEvent.type(screen.getByLabelText("Symbol"), "aapl");
    await vi.waitFor(() => expect(seen.at(-1)).toEqual({ category: "research", symbol: "aapl", q: "" }));
    expect(screen.getByLabelText("Category")).toHaveValue("research");
  });

  it("says when nothing matches", () => {
    state.pages = [{ items: [], next_cursor: null as unknown as string }];
    state.hasNextPage = false;
    renderBrowser();
    expect(screen.getByText("No files in the inventory")).toBeInTheDocument();
  });
});
