/**
 * One `/ws/market` connection for the whole app. Components say which symbols they show
 * (`useLiveQuotes`); the store counts watchers per symbol, subscribes and unsubscribes as they
 * come and go, and keeps the latest pushed quote of each symbol.
 */
import { useEffect, useSyncExternalStore } from "react";
import { openLiveSocket, type LiveSocket } from "@/lib/ws";

export interface LiveQuote {
  symbol: string;
  price: string | null;
  change_percent: string | null;
  source: string | null;
  as_of: string | null;
}

type Listener = () => void;

export function quoteFromValue(
  symbol: string,
  value: unknown,
  source: string | null,
  asOf: string | null,
): LiveQuote {
  const v = (value ?? {}) as Record<string, unknown>;
  const text = (x: unknown) => (x === null || x === undefined ? null : String(x));
  return {
    symbol,
    price: text(v.price),
    change_percent: text(v.change_percent ?? v.change_24h_percent),
    source: source ?? text(v.source),
    as_of: asOf ?? text(v.as_of),
  };
}

export class LiveMarket {
  private quotes = new Map<string, LiveQuote>();
  private watchers = new Map<string, number>();
  private listeners = new Set<Listener>();
  private socket: LiveSocket | null = null;
  private version = 0;
  private readonly open: typeof openLiveSocket;

  constructor(open: typeof openLiveSocket = openLiveSocket) {
    this.open = open;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  quote(symbol: string): LiveQuote | undefined {
    return this.quotes.get(symbol);
  }

  /** Called for each pushed frame; returns whether it changed a quote. */
  receive(message: Record<string, unknown>): boolean {
    if (message.type !== "data" || message.data_type !== "quote") return false;
    const symbol = String(message.symbol);
    const quote = quoteFromValue(
      symbol,
      message.value,
      (message.source as string | null) ?? null,
      (message.as_of as string | null) ?? null,
    );
    this.quotes.set(symbol, quote);
    this.version += 1;
    this.listeners.forEach((l) => l());
    return true;
  }

  watch(symbols: string[]): () => void {
    const fresh = symbols.filter((s) => {
      const n = this.watchers.get(s) ?? 0;
      this.watchers.set(s, n + 1);
      return n === 0;
    });
    this.ensureSocket();
    if (fresh.length) this.socket?.send({ action: "subscribe", symbols: fresh, types: ["quote"] });
    return () => {
      const gone = symbols.filter((s) => {
        const n = (this.watchers.get(s) ?? 1) - 1;
        if (n <= 0) this.watchers.delete(s);
        else this.watchers.set(s, n);
        return n <= 0;
      });
      if (gone.length) this.socket?.send({ action: "unsubscribe", symbols: gone });
      if (this.watchers.size === 0) {
        this.socket?.close();
        this.socket = null;
      }
    };
  }

  private ensureSocket() {
    if (this.socket) return;
    this.socket = this.open("/ws/market", {
      onMessage: (m) => void this.receive(m),
      onOpen: (socket) => {
        const all = [...this.watchers.keys()];
        if (all.length) socket.send({ action: "subscribe", symbols: all, types: ["quote"] });
      },
    });
  }
}

export const liveMarket = new LiveMarket();

/** Live quotes for these symbols (re-renders when one of the store's quotes changes). */
export function useLiveQuotes(symbols: string[]): (symbol: string) => LiveQuote | undefined {
  const key = symbols.join(",");
  useEffect(() => {
    if (!key) return;
    return liveMarket.watch(key.split(","));
  }, [key]);
  useSyncExternalStore(liveMarket.subscribe, liveMarket.getVersion);
  return (symbol) => liveMarket.quote(symbol);
}
