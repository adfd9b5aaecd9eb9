import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate, useLocation } from "react-router";
import { Layout } from "@/components/Layout";
import { Loading } from "@/components/State";
import { useAuth } from "@/features/auth/AuthProvider";
import { AuthPage } from "@/features/auth/routes/AuthPage";
import { UniversesPage } from "@/features/universes/UniversesPage";

// Pages past the first are split out, so the first load stays small.
const UniversePage = lazy(() => import("@/features/universes/UniversePage").then((m) => ({ default: m.UniversePage })));
const AssetPage = lazy(() => import("@/features/assets/AssetPage").then((m) => ({ default: m.AssetPage })));
const SearchPage = lazy(() => import("@/features/search/SearchPage").then((m) => ({ default: m.SearchPage })));
const TradingPage = lazy(() => import("@/features/trading/TradingPage").then((m) => ({ default: m.TradingPage })));
const OperationsPage = lazy(() => import("@/features/operations/OperationsPage").then((m) => ({ default: m.OperationsPage })));
const VaultsPage = lazy(() => import("@/features/vault/VaultsPage").then((m) => ({ default: m.VaultsPage })));
const VaultPage = lazy(() => import("@/features/vault/VaultPage").then((m) => ({ default: m.VaultPage })));
const OpsPage = lazy(() => import("@/features/ops/OpsPage").then((m) => ({ default: m.OpsPage })));

function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Loading label="Signing in…" />;
  if (status === "signed-out") return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

const page = (node: ReactNode) => <Suspense fallback={<Loading />}>{node}</Suspense>;

export const router = createBrowserRouter([
  { path: "/login", element: <AuthPage mode="login" /> },
  { path: "/signup", element: <AuthPage mode="signup" /> },
  {
    path: "/",
    element: (
      <RequireAuth>
        <Layout />
      </RequireAuth>
    ),
    children: [
      { index: true, element: <Navigate to="/universes" replace /> },
      { path: "universes", element: <UniversesPage /> },
      { path: "universes/:universeId", element: page(<UniversePage />) },
      { path: "assets/:symbol", element: page(<AssetPage />) },
      { path: "search", element: page(<SearchPage />) },
      { path: "trading", element: page(<TradingPage />) },
      { path: "trading/:accountId", element: page(<TradingPage />) },
      { path: "operations", element: page(<OperationsPage />) },
      { path: "vault", element: page(<VaultsPage />) },
      { path: "vault/:vaultId", element: page(<VaultPage />) },
      { path: "ops", element: page(<OpsPage />) },
      { path: "*", element: <p>Page not found.</p> },
    ],
  },
]);
