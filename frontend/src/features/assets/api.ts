import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, unwrap, type Schemas } from "@/lib/api";

export type SearchHit = Schemas["AssetSearchResult"];
export type AssetClass = Schemas["AssetClass"];
export const ASSET_CLASSES: AssetClass[] = ["equity", "etf", "crypto", "index", "currency"];

export interface SearchFilters {
  q: string;
  asset_class?: AssetClass | "";
  exchange?: string;
  sector?: string;
  limit?: number;
}

export function useDebounced<T>(value: T, ms = 250): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return debounced;
}

export function useAssetSearch(filters: SearchFilters, enabled = true) {
  const { q, asset_class, exchange, sector, limit = 25 } = filters;
  return useQuery({
    queryKey: ["assets", "search", q, asset_class, exchange, sector, limit],
    enabled: enabled && (q.trim().length > 0 || Boolean(asset_class || exchange || sector)),
    placeholderData: keepPreviousData,
    staleTime: 60_000,
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/assets/search", {
          params: {
            query: {
              q: q.trim(),
              limit,
              ...(asset_class ? { asset_class } : {}),
              ...(exchange ? { exchange } : {}),
              ...(sector ? { sector } : {}),
            },
          },
        }),
      ),
  });
}

export function useSectors() {
  return useQuery({
    queryKey: ["assets", "sectors"],
    staleTime: 10 * 60_000,
    queryFn: () => unwrap(api.GET("/api/v1/assets/sectors")),
  });
}

export function useAsset(symbol: string) {
  return useQuery({
    queryKey: ["assets", symbol],
    queryFn: () => unwrap(api.GET("/api/v1/assets/{symbol}", { params: { path: { symbol } } })),
  });
}
