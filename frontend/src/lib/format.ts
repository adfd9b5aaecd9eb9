/** Numbers and times for a person: grouped digits, a currency sign, relative ages. */

const moneyFormats = new Map<string, Intl.NumberFormat>();

export function toNumber(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

export function formatMoney(
  value: string | number | null | undefined,
  currency = "USD",
): string {
  const n = toNumber(value);
  if (n === null) return "—";
  let format = moneyFormats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat("en-US", { style: "currency", currency });
    } catch {
      format = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    moneyFormats.set(currency, format);
  }
  return format.format(n);
}

/** A price: cents for ordinary prices, more digits below one (crypto, penny stocks). */
export function formatPrice(value: string | number | null | undefined): string {
  const n = toNumber(value);
  if (n === null) return "—";
  const digits = Math.abs(n) >= 1 ? 2 : Math.abs(n) >= 0.01 ? 4 : 8;
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatQty(value: string | number | null | undefined): string {
  const n = toNumber(value);
  if (n === null) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: 8 });
}

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toLocaleString("en-US");
}

/** A ratio (0.0123) or, with `alreadyPercent`, a percentage (1.23) as "+1.23%". */
export function formatPercent(
  value: string | number | null | undefined,
  { alreadyPercent = false, signed = true } = {},
): string {
  const n = toNumber(value);
  if (n === null) return "—";
  const pct = alreadyPercent ? n : n * 100;
  const text = `${Math.abs(pct).toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })}%`;
  if (!signed || pct === 0) return pct < 0 ? `−${text}` : text;
  return pct > 0 ? `+${text}` : `−${text}`;
}

export function formatCompact(value: string | number | null | undefined): string {
  const n = toNumber(value);
  if (n === null) return "—";
  return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 }).format(n);
}

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

export function formatAge(value: string | null | undefined, now = Date.now()): string {
  if (!value) return "never";
  const seconds = Math.round((now - new Date(value).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export type Freshness = "live" | "recent" | "stale" | "none";

/** How fresh a quote is: live under a minute, recent under fifteen, else stale. */
export function freshness(
  asOf: string | null | undefined,
  stale?: boolean | null,
  now = Date.now(),
): Freshness {
  if (!asOf) return "none";
  if (stale) return "stale";
  const age = (now - new Date(asOf).getTime()) / 1000;
  if (age < 60) return "live";
  if (age < 900) return "recent";
  return "stale";
}

export function signClass(value: string | number | null | undefined): string {
  const n = toNumber(value);
  if (n === null || n === 0) return "";
  return n > 0 ? "pos" : "neg";
}
