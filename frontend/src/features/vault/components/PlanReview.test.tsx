import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Operation } from "@/features/operations/api";
import type { Move, Plan } from "../api";
import { PlanReview } from "./PlanReview";
import { PlanView } from "./PlanView";

vi.mock("@/features/operations/api", () => ({
  FINAL_STATUSES: ["succeeded", "failed", "cancelled"],
  useOperationProgress: (_id: string | null, initial?: Operation) => initial,
}));

const move = (seq: number, over: Partial<Move> = {}): Move => ({
  seq,
  src: `inbox/file-${seq}.pdf`,
  dst: `filings/AAPL/2023/file-${seq}.pdf`,
  size: 1000 + seq,
  mtime: "2026-01-01T00:00:00Z",
  hash: `h${seq}`,
  status: "planned",
  reason: null,
  ...over,
});

const plan = (over: Partial<Plan> = {}): Plan => ({
  id: "p1",
  vault_id: "v1",
  kind: "organize",
  status: "ready",
  options: { conflict: "rename_new" },
  move_count: 3,
  counts: { planned: 2, skipped: 1 },
  apply_operation_id: null,
  rollback_operation_id: null,
  created_at: "2026-01-01T00:00:00Z",
  moves: [
    move(0),
    move(1, { dst: "filings/AAPL/2023/file-1 (1).pdf", reason: "renamed: filings/AAPL/2023/file-1.pdf is taken" }),
    move(2, { status: "skipped", reason: "changed since the scan: scan again" }),
  ],
  next_cursor: null,
  ...over,
});

const operation = (id: string): Operation =>
  ({
    id,
    kind: "vault.apply",
    status: "pending",
    params: {},
    progress: { done: 0, total: 3, percent: null, message: null },
  }) as unknown as Operation;

describe("PlanView", () => {
  it("renders every move with its source, target and conflict resolution", () => {
    const p = plan();
    render(<PlanView plan={p} />);
    const rows = within(screen.getByRole("table", { name: "Planned moves" })).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(p.moves.length);
    p.moves.forEach((m, i) => {
      expect(rows[i]).toHaveTextContent(m.src);
      expect(rows[i]).toHaveTextContent(m.dst);
      expect(rows[i]).toHaveTextContent(m.status);
    });
    expect(rows[1]).toHaveTextContent("renamed: filings/AAPL/2023/file-1.pdf is taken");
    expect(rows[2]).toHaveTextContent("stays: changed since the scan");
    expect(screen.getByText(/a taken target gets a new name/)).toBeInTheDocument();
  });
});

describe("PlanReview", () => {
  const handlers = () => ({
    onApply: vi.fn(async () => operation("apply-op")),
    onRollback: vi.fn(async () => operation("rollback-op")),
    onJobFinished: vi.fn(),
  });

  it("keeps Apply disabled while the plan is not on screen", () => {
    const h = handlers();
    const { rerender } = render(<PlanReview plan={undefined} {...h} />);
    expect(screen.getByRole("button", { name: "Apply plan" })).toBeDisabled();
    rerender(<PlanReview plan={plan({ status: "planning", moves: [] })} {...h} />);
    expect(screen.getByRole("button", { name: "Apply plan" })).toBeDisabled();
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
  });

  it("applies a shown plan only after the person says they read it", async () => {
    const h = handlers();
    const p = plan();
    render(<PlanReview plan={p} {...h} />);
    const apply = screen.getByRole("button", { name: "Apply plan" });
    expect(screen.getByRole("table", { name: "Planned moves" })).toBeInTheDocument();
    expect(apply).toBeDisabled();
    await userEvent.click(screen.getByLabelText("I have read every move above"));
    expect(apply).toBeEnabled();
    await userEvent.click(apply);
    expect(h.onApply).toHaveBeenCalledWith(p);
    expect(await screen.findByText("Applying the plan")).toBeInTheDocument();
  });

  it("asks for the rest of a long plan before Apply can be ticked", async () => {
    const h = handlers();
    const onLoadMore = vi.fn();
    const partial = plan({ move_count: 3000, next_cursor: "c2" });
    const { rerender } = render(<PlanReview plan={partial} {...h} onLoadMore={onLoadMore} />);
    expect(screen.getByRole("status")).toHaveTextContent("3 of 3,000 moves shown");
    expect(screen.queryByLabelText("I have read every move above")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Apply plan" })).toBeDisabled();
    await userEvent.click(screen.getByRole("button", { name: "Show more moves" }));
    expect(onLoadMore).toHaveBeenCalledOnce();
    rerender(<PlanReview plan={{ ...partial, next_cursor: null }} {...h} onLoadMore={onLoadMore} />);
    await userEvent.click(screen.getByLabelText("I have read every move above"));
    expect(screen.getByRole("button", { name: "Apply plan" })).toBeEnabled();
  });

  it("never offers Apply on an applied plan, but Rollback of its operation", async () => {
    const h = handlers();
    render(<PlanReview plan={plan({ status: "applied", apply_operation_id: "apply-op" })} {...h} />);
    expect(screen.queryByRole("button", { name: "Apply plan" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Roll back" }));
    expect(h.onRollback).toHaveBeenCalledWith("apply-op");
  });

  it("shows the conflicts a rollback met", () => {
    const h = handlers();
    const rolledBack = plan({
      status: "rolled_back",
      counts: { restored: 1, conflict: 1, skipped: 1 },
      moves: [
        move(0, { status: "restored" }),
        move(1, { status: "conflict", reason: "changed since it was moved" }),
        move(2, { status: "skipped", reason: "the target is taken" }),
      ],
    });
    render(<PlanReview plan={rolledBack} {...h} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("1 file(s) could not be put back");
    expect(alert).toHaveTextContent("filings/AAPL/2023/file-1.pdf");
    expect(alert).toHaveTextContent("changed since it was moved");
    expect(screen.queryByRole("button", { name: "Roll back" })).not.toBeInTheDocument();
  });
});
