import { QueryState } from "@/components/State";
import { formatPercent, toNumber } from "@/lib/format";
import { useTurnoverHistory } from "../api";

const day = (iso: string) => new Date(iso).toLocaleDateString("en-US", { month: "short", day: "numeric" });

/** Turnover week by week as bars, with the same figures as a table for screen readers. */
export function Turnover({ universeId }: { universeId: string }) {
  const history = useTurnoverHistory(universeId);
  return (
    <section className="card" aria-labelledby="turnover-title">
      <h2 id="turnover-title">Turnover, week by week</h2>
      <QueryState query={history} loadingLabel="Loading turnover…">
        {(weeks) => {
          const rates = weeks.map((w) => toNumber(w.turnover_rate) ?? 0);
          const top = Math.max(...rates, 0.0001);
          return (
            <figure className="turnover">
              <div className="bars" aria-hidden="true">
                {weeks.map((w, i) => (
                  <div key={w.start} className="bar-col" title={`${day(w.start)}: ${formatPercent(rates[i], { signed: false })}`}>
                    <div className="bar" style={{ height: `${(100 * (rates[i] ?? 0)) / top}%` }} />
                    <span className="small muted">{day(w.end)}</span>
                  </div>
                ))}
              </div>
              <figcaption className="sr-only">Weekly turnover of the universe over the last {weeks.length} weeks</figcaption>
              <details>
                <summary>The figures</summary>
                <div className="table-wrap">
                  <table aria-label="Weekly turnover">
                    <thead>
                      <tr>
                        <th scope="col">Week to</th>
                        <th scope="col" className="num">Added</th>
                        <th scope="col" className="num">Removed</th>
                        <th scope="col" className="num">Turnover</th>
                      </tr>
                    </thead>
                    <tbody>
                      {weeks.map((w, i) => (
                        <tr key={w.start}>
                          <td>{day(w.end)}</td>
                          <td className="num">{w.addition_count}</td>
                          <td className="num">{w.removal_count}</td>
                          <td className="num">{formatPercent(rates[i], { signed: false })}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </details>
            </figure>
          );
        }}
      </QueryState>
    </section>
  );
}
