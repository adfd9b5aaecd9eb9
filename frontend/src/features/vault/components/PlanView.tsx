import { StatusBadge } from "@/components/Badges";
import { formatDateTime } from "@/lib/format";
import { formatBytes, type Move, type Plan } from "../api";

const RESOLUTION: Record<string, string> = {
  skip: "a taken target is skipped",
  rename_new: "a taken target gets a new name",
};

/** What a move will do (or did), in words: the plan's conflict resolution included. */
export function moveOutcome(move: Move): string {
  if (move.status === "skipped") return `stays: ${move.reason ?? "skipped"}`;
  if (move.status === "conflict") return `not restored: ${move.reason ?? "conflict"}`;
  return move.reason ?? "";
}

/** Every move of a plan, in order, with its status and why; conflicts of a rollback first. */
export function PlanView({ plan }: { plan: Plan }) {
  const conflict = typeof plan.options.conflict === "string" ? plan.options.conflict : null;
  const keep = typeof plan.options.keep === "string" ? plan.options.keep : null;
  const conflicts = plan.moves.filter((m) => m.status === "conflict");
  const counts = Object.entries(plan.counts).filter(([, n]) => n > 0);
  return (
    <div className="plan">
      <p className="muted small">
        {plan.kind === "dedupe" ? "Duplicate clean-up" : "Organise"} plan · {formatDateTime(plan.created_at)} ·{" "}
        <StatusBadge status={plan.status} /> · {plan.move_count.toLocaleString("en-US")} move(s)
        {conflict && ` · on a conflict: ${RESOLUTION[conflict] ?? conflict}`}
        {keep && ` · keeps the ${keep.replace(/_/g, " ")} copy`}
      </p>
      {counts.length > 0 && (
        <p className="small" aria-label="Moves by status">
          {counts.map(([status, n]) => (
            <span key={status} className="count">
              <StatusBadge status={status} /> {n}
            </span>
          ))}
        </p>
      )}
      {conflicts.length > 0 && (
        <div className="card conflicts" role="alert">
          <h3>{conflicts.length} file(s) could not be put back</h3>
          <ul>
            {conflicts.map((m) => (
              <li key={m.seq}>
                <code>{m.dst}</code> → <code>{m.src}</code>: {m.reason ?? "conflict"}
              </li>
            ))}
          </ul>
        </div>
      )}
      {plan.moves.length === 0 ? (
        <p className="muted">Nothing to move: every file is already where the rules put it.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="Planned moves">
            <thead>
              <tr>
                <th scope="col" className="num hide-sm">#</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Status</th>
                <th scope="col" className="num hide-sm">Size</th>
              </tr>
            </thead>
            <tbody>
              {plan.moves.map((m) => (
                <tr key={m.seq} className={m.status === "conflict" ? "row-conflict" : undefined}>
                  <td className="num hide-sm">{m.seq + 1}</td>
                  <td className="path">{m.src}</td>
                  <td className="path">{m.status === "skipped" ? <span className="muted">{m.dst}</span> : m.dst}</td>
                  <td>
                    <StatusBadge status={m.status} />
                    {moveOutcome(m) && <div className="small muted">{moveOutcome(m)}</div>}
                  </td>
                  <td className="num hide-sm">{formatBytes(m.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {plan.next_cursor && (
        <p className="muted small" role="status">
          {plan.moves.length.toLocaleString("en-US")} of {plan.move_count.toLocaleString("en-US")} moves shown; read
          the rest before applying.
        </p>
      )}
    </div>
  );
}
