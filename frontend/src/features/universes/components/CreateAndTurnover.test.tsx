import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { CreateUniverse } from "../UniversesPage";
import { Turnover } from "./Turnover";

const mutate = vi.fn();
const weeks = [0, 1, 2].map((i) => ({
  universe_id: "u1",
  start: `2026-01-0${1 + i}T00:00:00Z`,
  end: `2026-01-0${2 + i}T00:00:00Z`,
  additions: [],
  removals: [],
  addition_count: i,
  removal_count: 0,
  size_at_start: 10,
  size_at_end: 10 + i,
  turnover_rate: (i * 0.05).toFixed(6),
}));

vi.mock("../api", () => ({
  useCreateUniverse: () => ({ mutate, isPending: false, error: null }),
  useIndices: () => ({ data: { items: [{ name: "S&P 500", country: "United States", member_count: 503 }] } }),
  useUniverses: () => ({ data: [], isPending: false, error: null, refetch: vi.fn() }),
  useTurnoverHistory: () => ({ data: weeks, isPending: false, error: null, refetch: vi.fn() }),
}));

describe("creating a universe", () => {
  it("starts it from an index when one is chosen", async () => {
    render(<CreateUniverse />);
    await userEvent.type(screen.getByLabelText("New universe name"), "Large caps");
    await userEvent.selectOptions(screen.getByLabelText("Start from an index"), "S&P 500");
    await userEvent.click(screen.getByRole("button", { name: "Create universe" }));
    expect(mutate).toHaveBeenCalledWith(
      { name: "Large caps", description: null, from_index: "S&P 500" },
      expect.anything(),
    );
  });
});

describe("turnover", () => {
  it("draws a bar per week, with the same figures in a table", () => {
    const { container } = render(<Turnover universeId="u1" />);
    expect(container.querySelectorAll(".bar")).toHaveLength(weeks.length);
    const rows = within(screen.getByRole("table", { name: "Weekly turnover" })).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(weeks.length);
    expect(rows[2]).toHaveTextContent("10.00%");
    const tallest = container.querySelectorAll<HTMLElement>(".bar")[2];
    expect(tallest?.style.height).toBe("100%");
  });
});
