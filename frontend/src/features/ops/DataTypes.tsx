import { useState } from "react";
import { QueryState } from "@/components/State";
import { useDataTypes, useSwitchEngine, useUpdateDataType, type DataType } from "@/features/market/api";
import { describeError } from "@/lib/api";

/** "3600" → "1 h", for reading a TTL at a glance. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function TtlEditor({ type }: { type: DataType }) {
  const update = useUpdateDataType();
  const [value, setValue] = useState(String(type.ttl_seconds));
  const parsed = Number(value);
  const valid = Number.isInteger(parsed) && parsed > 0 && parsed <= 366 * 86_400;
  return (
    <form
      className="inline-form"
      aria-label={`TTL of ${type.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) update.mutate({ name: type.name, ttl_seconds: parsed });
      }}
    >
      <label className="sr-only" htmlFor={`ttl-${type.name}`}>
        TTL of {type.name} in seconds
      </label>
      <input
        id={`ttl-${type.name}`}
        className="ttl-input"
        inputMode="numeric"
        value={value}
        aria-invalid={!valid}
        onChange={(e) => setValue(e.target.value)}
      />
      <span className="muted small">{valid ? formatSeconds(parsed) : "1 s to 366 d"}</span>
      {valid && parsed !== type.ttl_seconds && (
        <button type="submit" className="small" disabled={update.isPending}>
          Save
        </button>
      )}
      {update.error && (
        <span className="form-error" role="alert">
          {describeError(update.error)}
        </span>
      )}
    </form>
  );
}

function EnabledSwitch({ type }: { type: DataType }) {
  const update = useUpdateDataType();
  return (
    <label className="inline">
      <input
        type="checkbox"
        checked={update.isPending ? Boolean(update.variables?.enabled) : type.enabled}
        disabled={update.isPending}
        onChange={(e) => update.mutate({ name: type.name, enabled: e.target.checked })}
      />
      {type.enabled ? "on" : "off"}
      <span className="sr-only"> ({type.name})</span>
      {update.error && (
        <span className="form-error" role="alert">
          {describeError(update.error)}
        </span>
      )}
    </label>
  );
}

/** The data types the engine keeps fresh: their TTLs and switches, and the engine's own switch. */
export function DataTypes() {
  const types = useDataTypes();
  const engine = useSwitchEngine();
  return (
    <>
      <h2>Data types</h2>
      <QueryState query={types} loadingLabel="Loading data types…">
        {(flags) => (
          <>
            <p className="actions">
              <span>
                Refresh engine: <strong>{flags.engine ? "on" : "off (reads fetch on demand)"}</strong>
              </span>
              <button type="button" className="small" disabled={engine.isPending} onClick={() => engine.mutate(!flags.engine)}>
                {flags.engine ? "Switch the engine off" : "Switch the engine on"}
              </button>
              {engine.error && (
                <span className="form-error" role="alert">
                  {describeError(engine.error)}
                </span>
              )}
            </p>
            <div className="table-wrap">
              <table aria-label="Data types">
                <thead>
                  <tr>
                    <th scope="col">Type</th>
                    <th scope="col" className="hide-sm">Refreshed</th>
                    <th scope="col">TTL (s)</th>
                    <th scope="col" className="hide-sm">Providers</th>
                    <th scope="col">Enabled</th>
                  </tr>
                </thead>
                <tbody>
                  {flags.data_types.map((t) => (
                    <tr key={t.name}>
                      <td>{t.name}</td>
                      <td className="small hide-sm">
                        {t.kind === "scheduled" ? `every ${formatSeconds(t.schedule_seconds)}` : "on demand"}
                      </td>
                      <td>
                        <TtlEditor key={`${t.name}-${t.ttl_seconds}`} type={t} />
                      </td>
                      <td className="hide-sm small">{t.providers.join(", ") || "—"}</td>
                      <td>
                        <EnabledSwitch type={t} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </QueryState>
    </>
  );
}
