import { useEffect, useRef } from "react";
import {
  AreaSeries,
  ColorType,
  createChart,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from "lightweight-charts";

export interface ChartPoint {
  time: number; // seconds since the epoch
  value: number;
}

/** A line/area chart of (time, value) points; follows the theme's colours. */
export default function PriceChart({ points, label }: { points: ChartPoint[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<ISeriesApi<"Area"> | null>(null);

  useEffect(() => {
    if (!box.current) return;
    const style = getComputedStyle(document.documentElement);
    const text = style.getPropertyValue("--fg").trim() || "#222";
    const accent = style.getPropertyValue("--accent").trim() || "#2563eb";
    const grid = style.getPropertyValue("--border").trim() || "#ddd";
    chart.current = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: text },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      timeScale: { timeVisible: true, secondsVisible: false },
    });
    // Follow the theme: re-read the colours when <html data-theme> changes.
    const themeWatch = new MutationObserver(() => {
      const now = getComputedStyle(document.documentElement);
      chart.current?.applyOptions({
        layout: { textColor: now.getPropertyValue("--fg").trim() },
        grid: {
          vertLines: { color: now.getPropertyValue("--border").trim() },
          horzLines: { color: now.getPropertyValue("--border").trim() },
        },
      });
    });
    themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    series.current = chart.current.addSeries(AreaSeries, {
      lineColor: accent,
      topColor: `${accent}55`,
      bottomColor: `${accent}05`,
      lineWidth: 2,
    });
    return () => {
      themeWatch.disconnect();
      chart.current?.remove();
      chart.current = null;
      series.current = null;
    };
  }, []);

  useEffect(() => {
    // One point per second at most, in order: what the chart requires.
    const byTime = new Map<number, number>();
    for (const p of points) byTime.set(Math.floor(p.time), p.value);
    const data = [...byTime.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([time, value]) => ({ time: time as UTCTimestamp, value }));
    series.current?.setData(data);
    chart.current?.timeScale().fitContent();
  }, [points]);

  return <div className="chart" ref={box} role="figure" aria-label={label} />;
}
