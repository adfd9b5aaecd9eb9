import { describe, expect, it } from "vitest";
import { formatAge, formatMoney, formatPercent, formatPrice, freshness } from "./format";

describe("numbers for a person", () => {
  it("groups money with its currency sign and keeps cents", () => {
    expect(formatMoney("10000")).toBe("$10,000.00");
    expect(formatMoney("-13.5")).toBe("-$13.50");
    expect(formatMoney(null)).toBe("—");
  });

  it("gives small prices more digits", () => {
    expect(formatPrice("230.4")).toBe("230.40");
    expect(formatPrice("0.123456")).toBe("0.1235");
    expect(formatPrice("0.00001234")).toBe("0.00001234");
  });

  it("signs percentages and reads ratios or percents", () => {
    expect(formatPercent(0.0123)).toBe("+1.23%");
    expect(formatPercent("-1.5", { alreadyPercent: true })).toBe("−1.50%");
    expect(formatPercent(0.5, { signed: false })).toBe("50.00%");
  });

  it("says how old a value is and how fresh", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAge("2026-01-01T11:58:00Z", now)).toBe("2 min ago");
    expect(freshness("2026-01-01T11:59:30Z", false, now)).toBe("live");
    expect(freshness("2026-01-01T11:50:00Z", false, now)).toBe("recent");
    expect(freshness("2026-01-01T10:00:00Z", false, now)).toBe("stale");
    expect(freshness("2026-01-01T11:59:59Z", true, now)).toBe("stale");
    expect(freshness(null, false, now)).toBe("none");
  });
});
