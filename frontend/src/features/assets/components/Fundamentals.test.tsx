import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ValueView } from "./Fundamentals";

describe("ValueView", () => {
  it("shows a list of records as a table, one row each", () => {
    const history = [
      { ex_date: "2024-02-09", amount: "0.24" },
      { ex_date: "2023-11-10", amount: "0.24" },
      { ex_date: "2023-08-11", amount: "0.24" },
    ];
    render(<ValueView name="dividend_history" value={{ symbol: "AAPL", dividends: history }} />);
    const table = screen.getByRole("table", { name: "dividend history" });
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(history.length + 1);
    expect(rows[1]).toHaveTextContent("2024-02-09");
    expect(within(table).getByRole("columnheader", { name: "ex date" })).toBeInTheDocument();
    expect(within(table).queryByRole("columnheader", { name: "symbol" })).not.toBeInTheDocument();
  });

  it("shows flat facts as terms and figures, numbers grouped", () => {
    render(<ValueView name="profile" value={{ industry: "Consumer Electronics", employees: 161000, fiscal_year: 2025 }} />);
    expect(screen.getByText("fiscal year").nextSibling).toHaveTextContent(/^2025$/);
    expect(screen.getByText("industry").nextSibling).toHaveTextContent("Consumer Electronics");
    expect(screen.getByText("employees").nextSibling).toHaveTextContent("161,000");
  });
});
