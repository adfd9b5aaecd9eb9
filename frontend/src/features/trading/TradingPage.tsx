import { useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { SourceBadge } from "@/components/Badges";
import { Empty, ErrorState, Loading, QueryState } from "@/components/State";
import { describeError } from "@/lib/api";
import { formatMoney } from "@/lib/format";
import { useAccount, useAccounts, useCreateAccount } from "./api";
import { OrderTicket } from "./components/OrderTicket";
import { Activities, MoveCash, OpenOrders, Performance, Positions, Summary } from "./components/Panels";

function CreateAccount({ onCreated }: { onCreated: (id: string) => void }) {
  const create = useCreateAccount();
  const [name, setName] = useState("");
  function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    create.mutate({ name: name.trim(), starting_cash: "0" }, { onSuccess: (a) => { setName(""); onCreated(a.id); } });
  }
  return (
    <form className="inline-form" onSubmit={submit} aria-label="Open a paper account">
      <label className="sr-only" htmlFor="new-account">New account name</label>
      <input id="new-account" placeholder="New paper account name" value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" disabled={create.isPending || !name.trim()}>Open paper account</button>
      {create.error && <p className="form-error" role="alert">{describeError(create.error)}</p>}
    </form>
  );
}

export function TradingPage() {
  const { accountId } = useParams();
  const navigate = useNavigate();
  const accounts = useAccounts();
  const chosen = accountId ?? accounts.data?.items[0]?.id ?? null;
  const account = useAccount(chosen);
  const pick = (id: string) => navigate(`/trading/${id}`);

  return (
    <section>
      <div className="page-head">
        <h1>Paper trading</h1>
        <CreateAccount onCreated={pick} />
      </div>
      <QueryState
        query={accounts}
        isEmpty={(p) => p.items.length === 0}
        empty={<Empty title="No paper account yet">Open one above, deposit play money, and trade.</Empty>}
      >
        {(page) => (
          <>
            <label className="inline">
              Account
              <select value={chosen ?? ""} onChange={(e) => pick(e.target.value)}>
                {page.items.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name} ({formatMoney(a.cash, a.currency)} cash)
                  </option>
                ))}
              </select>
            </label>
            {account.isPending ? (
              <Loading />
            ) : account.error || !account.data ? (
              <ErrorState error={account.error} onRetry={() => void account.refetch()} />
            ) : (
              <div className="trading-grid">
                <div className="trading-main">
                  {account.data.positions.some((p) => p.quote_source === "sim") && (
                    <p className="note">
                      <SourceBadge source="sim" /> Market prices, fills and valuations here come from the
                      simulated provider, not a real market.
                    </p>
                  )}
                  <Summary account={account.data} />
                  <MoveCash account={account.data} />
                  <h2>Positions</h2>
                  <Positions account={account.data} />
                  <h2>Open orders</h2>
                  <OpenOrders accountId={account.data.id} />
                  <Performance accountId={account.data.id} currency={account.data.currency} />
                  <h2>Activity</h2>
                  <Activities accountId={account.data.id} currency={account.data.currency} />
                </div>
                <aside className="trading-side">
                  <OrderTicket account={account.data} />
                </aside>
              </div>
            )}
          </>
        )}
      </QueryState>
    </section>
  );
}
