import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/api";
import { FreshnessBadge, SourceBadge } from "./Badges";
import { QueryState } from "./State";

const query = <T,>(patch: Partial<{ data: T; error: unknown; isPending: boolean }>) => ({
  data: undefined as T | undefined,
  error: null as unknown,
  isPending: false,
  refetch: vi.fn(),
  ...patch,
});

describe("QueryState", () => {
  it("shows loading, then the error with a retry, the empty state, or the content", async () => {
    const { rerender } = render(
      <QueryState query={query<string[]>({ isPending: true })}>{(d) => <p>{d.join()}</p>}</QueryState>,
    );
    expect(screen.getByRole("status")).toHaveTextContent("Loading");

    const failing = query<string[]>({ error: new ApiError("Universe not found", 404, "universe_not_found") });
    rerender(<QueryState query={failing}>{(d) => <p>{d.join()}</p>}</QueryState>);
    expect(screen.getByRole("alert")).toHaveTextContent("Universe not found");
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(failing.refetch).toHaveBeenCalledOnce();

    rerender(
      <QueryState query={query({ data: [] as string[] })} isEmpty={(d) => d.length === 0} empty={<p>Nothing yet</p>}>
        {(d) => <p>{d.join()}</p>}
      </QueryState>,
    );
    expect(screen.getByText("Nothing yet")).toBeInTheDocument();

    rerender(
      <QueryState query={query({ data: ["AAPL", "MSFT"] })} isEmpty={(d) => d.length === 0}>
        {(d) => <p>{d.join(" and ")}</p>}
      </QueryState>,
    );
    expect(screen.getByText("AAPL and MSFT")).toBeInTheDocument();
  });
});

describe("badges", () => {
  it("labels simulated values and only those", () => {
    const { rerender, container } = render(<SourceBadge source="sim" />);
    expect(screen.getByText("simulated")).toBeInTheDocument();
    rerender(<SourceBadge source="yahoo" />);
    expect(container).toBeEmptyDOMElement();
  });

  it("says how fresh a quote is", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    render(<FreshnessBadge asOf="2026-01-01T11:00:00Z" now={now} />);
    expect(screen.getByText("stale")).toHaveAttribute("title", expect.stringContaining("1 h ago"));
  });
});
