import { useEffect, useState } from "react";

type Theme = "light" | "dark";
const KEY = "quantdesk.theme";

function initialTheme(): Theme {
  const saved = globalThis.localStorage?.getItem(KEY);
  if (saved === "light" || saved === "dark") return saved;
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    globalThis.localStorage?.setItem(KEY, theme);
  }, [theme]);
  const next = theme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="ghost"
      onClick={() => setTheme(next)}
      aria-label={`Switch to the ${next} theme`}
      title={`Switch to the ${next} theme`}
    >
      {theme === "dark" ? "☀︎" : "☾"}
    </button>
  );
}
