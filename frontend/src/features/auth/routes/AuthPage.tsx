import { useState, type FormEvent } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { describeError } from "@/lib/api";
import { ThemeToggle } from "@/components/Theme";
import { login, signup } from "../api/auth";
import { useAuth } from "../AuthProvider";

export function AuthPage({ mode }: { mode: "login" | "signup" }) {
  const { status } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/universes";

  if (status === "signed-in") return <Navigate to={from} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup") await signup(email, password, String(form.get("name") ?? "").trim());
      else await login(email, password);
      navigate(from, { replace: true });
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  const title = mode === "login" ? "Log in" : "Create an account";
  return (
    <div className="auth-page">
      <div className="auth-card card">
        <div className="auth-head">
          <h1>quantdesk</h1>
          <ThemeToggle />
        </div>
        <h2>{title}</h2>
        <form onSubmit={submit} noValidate={false}>
          {mode === "signup" && (
            <label>
              Name <span className="muted">(optional)</span>
              <input name="name" autoComplete="name" />
            </label>
          )}
          <label>
            Email
            <input name="email" type="email" required autoComplete="email" />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              required
              minLength={mode === "signup" ? 10 : 1}
              autoComplete={mode === "signup" ? "new-password" : "current-password"}
            />
          </label>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Please wait…" : title}
          </button>
        </form>
        <p className="muted">
          {mode === "login" ? (
            <>
              No account yet? <Link to="/signup">Sign up</Link>
            </>
          ) : (
            <>
              Already have an account? <Link to="/login">Log in</Link>
            </>
          )}
        </p>
      </div>
    </div>
  );
}
