import { useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "@/features/auth/AuthProvider";
import { ThemeToggle } from "./Theme";

const LINKS = [
  { to: "/universes", label: "Universes" },
  { to: "/search", label: "Search" },
  { to: "/trading", label: "Trading" },
  { to: "/vault", label: "Vault" },
  { to: "/operations", label: "Operations" },
];

export function Layout() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const links = user?.is_admin ? [...LINKS, { to: "/ops", label: "Ops" }] : LINKS;

  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand">
          quantdesk
        </NavLink>
        <button
          type="button"
          className="ghost menu-toggle"
          aria-expanded={open}
          aria-controls="main-nav"
          onClick={() => setOpen(!open)}
        >
          Menu
        </button>
        <nav id="main-nav" className={open ? "nav open" : "nav"} aria-label="Main">
          {links.map((link) => (
            <NavLink key={link.to} to={link.to} onClick={() => setOpen(false)}>
              {link.label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-end">
          <ThemeToggle />
          <span className="user" title={user?.email}>
            {user?.display_name || user?.email}
          </span>
          <button
            type="button"
            onClick={async () => {
              await logout();
              navigate("/login");
            }}
          >
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
