import { lazy, Suspense } from "react";
import type { ChartPoint } from "./PriceChart";
import { Empty, Loading } from "./State";

const PriceChart = lazy(() => import("./PriceChart"));

/** The chart library loads only when a chart is on screen (it is not in the first bundle). */
export function Chart({ points, label, emptyText }: { points: ChartPoint[]; label: string; emptyText: string }) {
  if (points.length === 0) return <Empty title={emptyText} />;
  return (
    <Suspense fallback={<Loading label="Loading chart…" />}>
      <PriceChart points={points} label={label} />
    </Suspense>
  );
}
export type { ChartPoint };
