import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { FreshnessBadge, SourceBadge, StatusBadge } from "@/components/Badges";
import { Chart } from "@/components/LazyChart";
import { Empty, QueryState } from "@/components/State";
import { useLiveQuotes } from "@/features/market/live";
import { describeError } from "@/lib/api";
import { formatDateTime, formatMoney, formatPercent, formatPrice, formatQty, signClass, toNumber } from "@/lib/format";
import {
  useActivities,
  useCancelOrder,
  useEquityHistory,
  useMoveCash,
  useOpenOrders,
  usePerformance,
  type AccountDetail,
  type Position,
} from "../api";

export function Summary({ account }: { account: AccountDetail }) {
  const c = account.currency;
  return (
    <dl className="stats card" aria-label="Account summary">
      <div><dt>Equity</dt><dd>{formatMoney(account.equity, c)}</dd></div>
      <div><dt>Cash</dt><dd>{formatMoney(account.cash, c)}</dd></div>
      <div><dt>Buying power</dt><dd>{formatMoney(account.buying_power, c)}</dd></div>
      <div><dt>Reserved</dt><dd>{formatMoney(account.reserved, c)}</dd></div>
      <div><dt>Positions value</dt><dd>{formatMoney(account.long_market_value, c)}</dd></div>
    </dl>
  );
}

export function MoveCash({ account }: { account: AccountDetail }) {
  const move = useMoveCash(account.id);
  const [amount, setAmount] = useState("");
  const submit = (kind: "deposit" | "withdrawal") => (event?: FormEvent) => {
    event?.preventDefault();
    if (!(Number(amount) > 0)) return;
    move.mutate({ kind, amount: amount.trim() }, { onSuccess: () => setAmount("") });
  };
  return (
    <form className="card inline-form" onSubmit={submit("deposit")} aria-label="Deposit or withdraw">
      <label>
        Amount (USD)
        <input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} placeholder="1000.00" />
      </label>
      <button type="submit" className="primary" disabled={move.isPending || !(Number(amount) > 0)}>
        Deposit
      </button>
      <button type="button" disabled={move.isPending || !(Number(amount) > 0)} onClick={() => submit("withdrawal")()}>
        Withdraw
      </button>
      {move.error && <p className="form-error" role="alert">{describeError(move.error)}</p>}
      {move.isSuccess && <p className="muted small" role="status">Done.</p>}
    </form>
  );
}

/** Live P&L: the pushed price when there is one, else the account's valuation price. */
export function livePnl(position: Position, livePrice: number | null) {
  const qty = toNumber(position.qty) ?? 0;
  const cost = toNumber(position.cost_basis) ?? 0;
  const price = livePrice ?? toNumber(position.price);
  if (price === null) return { value: toNumber(position.market_value), pnl: toNumber(position.unrealized_pnl), price: null };
  const value = qty * price;
  return { value, pnl: value - cost, price };
}

export function Positions({ account }: { account: AccountDetail }) {
  const symbols = account.positions.map((p) => p.symbol);
  const quote = useLiveQuotes(symbols);
  if (account.positions.length === 0) return <Empty title="No positions yet">Place a buy order to open one.</Empty>;
  return (
    <div className="table-wrap">
      <table aria-label="Positions">
        <thead>
          <tr>
            <th scope="col">Symbol</th>
            <th scope="col" className="num">Qty</th>
            <th scope="col" className="num hide-sm">Avg entry</th>
            <th scope="col" className="num">Price</th>
            <th scope="col" className="num hide-sm">Value</th>
            <th scope="col" className="num">Unrealized P&amp;L</th>
          </tr>
        </thead>
        <tbody>
          {account.positions.map((p) => {
            const live = quote(p.symbol);
            const { value, pnl, price } = livePnl(p, toNumber(live?.price));
            const cost = toNumber(p.cost_basis);
            return (
              <tr key={p.symbol}>
                <td><Link to={`/assets/${encodeURIComponent(p.symbol)}`}>{p.symbol}</Link></td>
                <td className="num">{formatQty(p.qty)}</td>
                <td className="num hide-sm">{formatPrice(p.avg_entry_price)}</td>
                <td className="num">
                  {formatPrice(price)} <FreshnessBadge asOf={live?.as_of ?? p.price_as_of} stale={live ? false : p.price_stale} />{" "}
                  <SourceBadge source={live?.source ?? p.quote_source} />
                </td>
                <td className="num hide-sm">{formatMoney(value, account.currency)}</td>
                <td className={`num ${signClass(pnl)}`}>
                  {formatMoney(pnl, account.currency)}
                  {cost ? <span className="small"> ({formatPercent((pnl ?? 0) / cost)})</span> : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function OpenOrders({ accountId }: { accountId: string }) {
  const orders = useOpenOrders(accountId);
  const cancel = useCancelOrder(accountId);
  return (
    <QueryState query={orders} isEmpty={(d) => d.orders.length === 0} empty={<Empty title="No open orders" />}>
      {(d) => (
        <div className="table-wrap">
          <table aria-label="Open orders">
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col" className="hide-sm">Type</th>
                <th scope="col">Status</th>
                <th scope="col"><span className="sr-only">Cancel</span></th>
              </tr>
            </thead>
            <tbody>
              {d.orders.map((o) => (
                <tr key={o.id}>
                  <td>
                    {o.side} {o.qty ? formatQty(o.qty) : formatMoney(o.notional)} {o.symbol}
                    {o.limit_price && <span className="muted small"> limit {formatPrice(o.limit_price)}</span>}
                    {o.stop_price && <span className="muted small"> stop {formatPrice(o.stop_price)}</span>}
                  </td>
                  <td className="hide-sm">{o.type.replace("_", "-")} · {o.time_in_force}</td>
                  <td><StatusBadge status={o.status} />{o.status_message && <div className="muted small">{o.status_message}</div>}</td>
                  <td>
                    <button type="button" disabled={cancel.isPending} onClick={() => cancel.mutate(o.id)} aria-label={`Cancel order for ${o.symbol}`}>
                      Cancel
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {cancel.error && <p className="form-error" role="alert">{describeError(cancel.error)}</p>}
        </div>
      )}
    </QueryState>
  );
}

export function Activities({ accountId, currency }: { accountId: string; currency: string }) {
  const activities = useActivities(accountId);
  return (
    <QueryState query={activities} isEmpty={(p) => p.items.length === 0} empty={<Empty title="No activity yet" />}>
      {(page) => (
        <div className="table-wrap">
          <table aria-label="Activity">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col" className="num">Amount</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((a) => (
                <tr key={a.id}>
                  <td>{formatDateTime(a.created_at)}</td>
                  <td>
                    {a.kind.replace(/_/g, " ")}
                    {a.symbol && ` ${a.qty ? formatQty(a.qty) : ""} ${a.symbol}`}
                    {a.price && <span className="muted"> at {formatPrice(a.price)}</span>}
                    {a.memo && <div className="muted small">{a.memo}</div>}
                  </td>
                  <td className={`num ${signClass(a.net_amount)}`}>{formatMoney(a.net_amount, currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </QueryState>
  );
}

const PERIODS = ["1W", "1M", "3M", "6M", "1Y", "all"];

export function Performance({ accountId, currency }: { accountId: string; currency: string }) {
  const [period, setPeriod] = useState("1M");
  const history = useEquityHistory(accountId, period);
  const perf = usePerformance(accountId, period);
  const points = useMemo(
    () =>
      (history.data?.points ?? []).flatMap((p) => {
        const v = toNumber(p.equity);
        return v === null ? [] : [{ time: new Date(`${p.day}T00:00:00Z`).getTime() / 1000, value: v }];
      }),
    [history.data],
  );
  return (
    <div className="card">
      <div className="page-head">
        <h2>Equity and returns</h2>
        <label className="inline">
          Period
          <select value={period} onChange={(e) => setPeriod(e.target.value)}>
            {PERIODS.map((p) => (
              <option key={p} value={p}>{p}</option>
            ))}
          </select>
        </label>
      </div>
      <QueryState query={perf}>
        {(p) => (
          <dl className="stats">
            <div>
              <dt title="Time-weighted: the return of the investments, deposits and withdrawals left out">Time-weighted return</dt>
              <dd className={signClass(p.time_weighted_return)}>{formatPercent(p.time_weighted_return)}</dd>
            </div>
            <div>
              <dt title="Money-weighted (internal rate of return): counts when money came in and out">Money-weighted return</dt>
              <dd className={signClass(p.money_weighted_return)}>{formatPercent(p.money_weighted_return)}</dd>
            </div>
            <div>
              <dt>Profit / loss</dt>
              <dd className={signClass(p.profit_loss)}>{formatMoney(p.profit_loss, currency)}</dd>
            </div>
          </dl>
        )}
      </QueryState>
      {history.isPending ? (
        <p className="muted">Loading equity…</p>
      ) : (
        <Chart points={points} label="Equity curve" emptyText="No equity history yet (a point is recorded each day)" />
      )}
    </div>
  );
}
