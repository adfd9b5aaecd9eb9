import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { DataTypes, formatSeconds } from "./DataTypes";

const mutate = vi.fn();
const types = [
  { name: "quote", ttl_seconds: 60, datasets: ["quote"], providers: ["sim"], kind: "on_demand", schedule_seconds: null, default_priority: 10, enabled: true, updated_at: "2026-01-01T00:00:00Z" },
  { name: "profile", ttl_seconds: 86_400, datasets: ["profile"], providers: ["sim"], kind: "scheduled", schedule_seconds: 3_600, default_priority: 50, enabled: false, updated_at: "2026-01-01T00:00:00Z" },
];
vi.mock("@/features/market/api", () => ({
  useDataTypes: () => ({ isPending: false, error: null, data: { engine: true, data_types: types }, refetch: vi.fn() }),
  useUpdateDataType: () => ({ mutate, isPending: false, error: null, variables: undefined }),
  useSwitchEngine: () => ({ mutate: vi.fn(), isPending: false, error: null }),
}));

describe("formatSeconds", () => {
  it("reads a TTL in the largest whole unit", () => {
    expect(formatSeconds(86_400 * 2)).toBe("2 d");
    expect(formatSeconds(7_200)).toBe("2 h");
    expect(formatSeconds(900)).toBe("15 min");
    expect(formatSeconds(45)).toBe("45 s");
    expect(formatSeconds(null)).toBe("—");
  });
});

describe("the Ops page's data types", () => {
  it("shows each type's TTL and switch, and changes them", async () => {
    render(<DataTypes />);
    const rows = within(screen.getByRole("table", { name: "Data types" })).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toHaveTextContent("every 1 h");
    expect(within(rows[1]!).getByRole("checkbox")).not.toBeChecked();

    await userEvent.click(within(rows[0]!).getByRole("checkbox"));
    expect(mutate).toHaveBeenLastCalledWith({ name: "quote", enabled: false });

    const ttl = screen.getByLabelText("TTL of profile in seconds");
    await userEvent.clear(ttl);
    await userEvent.type(ttl, "7200");
    expect(within(rows[1]!).getByText("2 h")).toBeInTheDocument();
    await userEvent.click(within(rows[1]!).getByRole("button", { name: "Save" }));
    expect(mutate).toHaveBeenLastCalledWith({ name: "profile", ttl_seconds: 7200 });
  });
});
