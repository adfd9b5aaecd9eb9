// End-to-end: a person's first session against a real `quantdesk serve` (simulated market data).
// Usage: BASE_URL=http://127.0.0.1:PORT OUT_DIR=... node e2e/run.mjs
// Drives Debian's chromium through playwright-core; never downloads a browser.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const out = process.env.OUT_DIR ?? "test-results/e2e";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!base) throw new Error("BASE_URL is not set");
mkdirSync(out, { recursive: true });

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const step = (name) => console.log(`[e2e] ${new Date().toISOString()} ${name}`);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
context.setDefaultTimeout(20_000);
const page = await context.newPage();
const problems = [];
page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
page.on("console", (msg) => {
  if (msg.type() === "error" && !/WebSocket|status of (4\d\d|503)/.test(msg.text())) problems.push(`console: ${msg.text()}`);
});

// WCAG 2 A/AA rules on the page as it is now; serious and critical findings fail the run.
async function checkAccessibility(name) {
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  if (found.length) problems.push(`accessibility on ${name}:\n  ${found.join("\n  ")}`);
}

async function shot(name) {
  await checkAccessibility(name);
  for (const [label, width, height] of [["desktop", 1440, 900], ["phone", 390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(out, `${name}-${label}-${width}.png`), fullPage: true });
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scrollWidth > width + 1) throw new Error(`${name} at ${width} px scrolls sideways (${scrollWidth} px wide)`);
  }
  await page.setViewportSize({ width: 1440, height: 900 });
}

try {
  const email = `e2e-${Date.now()}@example.com`;
  step("sign up");
  await page.goto(`${base}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough passphrase");
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByRole("heading", { name: "Universes" }).waitFor();
  await page.getByText("No universes yet").waitFor();
  await shot("01-universes-empty");

  step("create a universe");
  await page.getByLabel("New universe name").fill("E2E picks");
  await page.getByRole("button", { name: "Create universe" }).click();
  await page.getByRole("link", { name: "E2E picks" }).click();
  await page.getByRole("heading", { name: "E2E picks" }).waitFor();

  for (const symbol of ["AAPL", "BTC-USD"]) {
    step(`search and add ${symbol}`);
    const box = page.getByRole("combobox", { name: "Add an asset" });
    await box.fill(symbol);
    await page.getByRole("option", { name: new RegExp(`^${symbol}\\b`) }).first().waitFor();
    await box.press("Enter");
    await page.getByRole("row").getByRole("link", { name: symbol, exact: true }).waitFor();
  }
  await page.getByText(/BTC-USD added|BTC-USD added; its validation is pending/).waitFor();

  step("import a CSV, its progress live from /ws/operations");
  await page.locator('input[type="file"]').setInputFiles({
    name: "more.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("symbol,sector\nMSFT,\nNVDA,\n"),
  });
  await page.getByLabel(/progress$/).waitFor();
  await page.locator(".import").getByText("succeeded").waitFor();
  await page.getByRole("row").getByRole("link", { name: "NVDA", exact: true }).waitFor();

  step("export the universe as CSV");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const exported = readFileSync(await download.path(), "utf8");
  for (const symbol of ["AAPL", "BTC-USD", "MSFT", "NVDA"])
    if (!exported.includes(symbol)) throw new Error(`the export lacks ${symbol}:\n${exported}`);
  step("reorder: AAPL one place down, kept after a reload");
  await page.getByRole("button", { name: "Move AAPL down" }).click();
  await page.getByText("Drag rows, or use their").waitFor();
  await page.reload();
  await page.locator(".vbody [role=row]").first().getByRole("link", { name: "BTC-USD", exact: true }).waitFor();
  step("reorder by dragging: NVDA onto the first row");
  const memberRows = page.locator(".vbody [role=row]");
  await memberRows.filter({ hasText: "NVDA" }).dragTo(memberRows.first());
  await memberRows.first().getByRole("link", { name: "NVDA", exact: true }).waitFor();
  await page.getByText("Drag rows, or use their").waitFor(); // saved
  await page.reload();
  await memberRows.first().getByRole("link", { name: "NVDA", exact: true }).waitFor();
  await memberRows.nth(1).getByRole("link", { name: "BTC-USD", exact: true }).waitFor();
  await page.getByRole("heading", { name: "Turnover, week by week" }).waitFor();
  await page.locator(".bars").waitFor();
  await shot("02-universe");

  step("the asset page: profile, live quote, price chart");
  await page.getByRole("row").getByRole("link", { name: "AAPL", exact: true }).click();
  await page.getByRole("heading", { name: /AAPL/ }).waitFor();
  await page.getByRole("heading", { name: /Price history/ }).waitFor();
  await page.locator(".quote-big").getByText("simulated").waitFor();
  await page.locator(".chart canvas").first().waitFor();
  await shot("03-asset");

  step("search the catalog with a filter");
  await page.getByRole("link", { name: "Search" }).click();
  await page.getByLabel("Symbol or name").fill("apple");
  await page.getByLabel("Class").selectOption("equity");
  await page.getByRole("table").getByRole("link", { name: "AAPL", exact: true }).waitFor();

  step("operations, in the dark theme");
  await page.getByRole("link", { name: "Operations" }).click();
  await page.getByRole("heading", { name: "Operations" }).waitFor();
  await page.locator(".op-row", { hasText: "import universe csv" }).getByText("succeeded").waitFor();
  const [rowResults] = await Promise.all([
    page.waitForEvent("download"),
    page.locator(".op-row", { hasText: "import universe csv" }).getByRole("button", { name: "Download row results" }).click(),
  ]);
  const resultsText = readFileSync(await rowResults.path(), "utf8");
  if (!resultsText.includes("NVDA")) throw new Error(`the import's results lack NVDA:\n${resultsText}`);
  await page.getByRole("button", { name: /Switch to the dark theme/ }).click();
  await page.locator("html[data-theme=dark]").waitFor({ state: "attached" });
  await shot("04-operations-dark");
  await page.getByRole("button", { name: /Switch to the light theme/ }).click();

  step("open a paper account");
  await page.getByRole("link", { name: "Trading" }).click();
  await page.getByLabel("New account name").fill("E2E paper");
  await page.getByRole("button", { name: "Open paper account" }).click();
  await page.getByRole("form", { name: "Order ticket" }).waitFor();

  step("deposit");
  await page.getByLabel("Amount (USD)").fill("10000");
  await page.getByRole("button", { name: "Deposit" }).click();
  const summary = page.getByLabel("Account summary");
  await summary.getByText("$10,000.00").first().waitFor();

  step("buy BTC-USD");
  const ticket = page.getByRole("form", { name: "Order ticket" });
  await ticket.getByRole("textbox", { name: "Symbol", exact: true }).fill("BTC-USD");
  await ticket.getByRole("textbox", { name: "Quantity", exact: true }).fill("0.01");
  await ticket.getByRole("button", { name: "Place buy order" }).click();
  const result = ticket.getByRole("status");
  await result.waitFor();
  const text = await result.textContent();
  if (!/^Filled/.test(text ?? "")) throw new Error(`the buy did not fill: ${text}`);

  step("see the position and the activity");
  await page.getByRole("table", { name: "Positions" }).getByRole("link", { name: "BTC-USD" }).waitFor();
  await page.getByRole("table", { name: "Activity" }).getByText(/BTC-USD/).first().waitFor();
  await page.getByRole("table", { name: "Positions" }).getByText("simulated").first().waitFor();
  await shot("05-trading");

  step("register a local vault and scan it, its progress live");
  await page.getByRole("link", { name: "Vault" }).click();
  await page.getByRole("heading", { name: "Research vault" }).waitFor();
  await page.getByText("No vaults yet").waitFor();
  await page.getByRole("radio", { name: /S3 bucket/ }).check();
  await page.getByLabel("Secret access key").waitFor();
  await shot("08-vaults-register-s3");
  await page.getByRole("radio", { name: /Local folder/ }).check();
  await page.getByLabel("Vault name").fill("E2E research");
  await page.getByRole("textbox", { name: "Folder", exact: true }).fill("research");
  await page.getByRole("button", { name: "Register vault" }).click();
  await page.getByRole("heading", { name: "E2E research" }).waitFor();
  step("upload a filing through the dashboard");
  await page.getByLabel("Into folder").fill("inbox");
  await page.getByLabel("Files to upload").setInputFiles({
    name: "MSFT_10-Q_2024.pdf",
    mimeType: "application/pdf",
    buffer: Buffer.from("%PDF-1.4 Microsoft 10-Q 2024\n"),
  });
  await page.getByRole("status").getByText(/Stored inbox\/MSFT_10-Q_2024\.pdf/).waitFor();
  await page.getByRole("button", { name: "Scan vault" }).click();
  await page.getByLabel(/progress$/).first().waitFor();
  await page.locator(".job", { hasText: "Scanning" }).getByText("succeeded").waitFor();
  const files = page.getByRole("table", { name: "Vault files" });
  await files.getByText("AAPL_10-K_2023.pdf").waitFor();
  await files.getByText("notes.md").waitFor();
  await files.getByText("inbox/MSFT_10-Q_2024.pdf").waitFor();

  step("the files of one category");
  await page.getByLabel("Category").selectOption("filings");
  await files.getByText("notes.md").waitFor({ state: "detached" });
  await files.getByText("AAPL_10-K_2023.pdf").waitFor();
  await page.getByLabel("Category").selectOption("");

  step("duplicates: one group found");
  await page.getByRole("button", { name: "Find duplicates" }).click();
  await page.locator(".job", { hasText: "Looking for duplicates" }).getByText("succeeded").waitFor();
  await page.getByText(/1 group\(s\) of identical files/).waitFor();
  await shot("08-vault");

  step("organise: the plan is shown before Apply");
  await page.getByRole("button", { name: "Make organise plan" }).click();
  const moves = page.getByRole("table", { name: "Planned moves" });
  await moves.getByText("filings/AAPL/2023/AAPL_10-K_2023.pdf").waitFor();
  const apply = page.getByRole("button", { name: "Apply plan" });
  if (!(await apply.isDisabled())) throw new Error("Apply was enabled before the plan was acknowledged");
  await shot("09-vault-plan");
  await page.getByLabel("I have read every move above").check();
  await apply.click();
  await page.locator(".job", { hasText: "Applying the plan" }).getByText("succeeded").waitFor();
  await page.getByRole("region", { name: "Plan" }).getByText("applied", { exact: true }).first().waitFor();
  await files.getByText("filings/AAPL/2023/AAPL_10-K_2023.pdf").waitFor();

  step("roll the organise back; a new notes.md where the old one was is a conflict, shown");
  await page.getByLabel("Into folder").fill("");
  await page.getByLabel("Files to upload").setInputFiles({
    name: "notes.md",
    mimeType: "text/markdown",
    buffer: Buffer.from("# New notes, written after the organise\n"),
  });
  await page.getByRole("status").getByText("Stored notes.md.").waitFor();
  await page.getByRole("button", { name: "Roll back" }).click();
  await page.locator(".job", { hasText: "Rolling back" }).getByText("succeeded").waitFor();
  const plan = page.getByRole("region", { name: "Plan" });
  await plan.getByText("rolled back", { exact: true }).first().waitFor();
  await moves.getByText("restored").first().waitFor();
  await plan.getByRole("alert").getByText("1 file(s) could not be put back").waitFor();
  await plan.getByRole("alert").getByText(/a file now sits at the original path/).waitFor();
  await page.getByRole("button", { name: /Switch to the dark theme/ }).click();
  await page.locator("html[data-theme=dark]").waitFor({ state: "attached" });
  await plan.scrollIntoViewIfNeeded();
  await shot("09-vault-rollback-dark");
  await page.getByRole("button", { name: /Switch to the light theme/ }).click();

  step("plan the duplicates' clean-up: the extra copy goes to the quarantine, nothing yet moves");
  await page.getByRole("button", { name: "Plan the clean-up" }).click();
  await page.getByRole("table", { name: "Planned moves" }).getByText(/^\.quarantine\//).first().waitFor();
  await page.getByRole("region", { name: "Plan" }).getByText("Duplicate clean-up plan", { exact: false }).waitFor();

  step("operations: the vault's jobs, each linked to the vault");
  await page.getByRole("link", { name: "Operations" }).click();
  const applyRow = page.locator(".op-row", { hasText: "vault apply" });
  await applyRow.getByRole("link", { name: "Open the vault" }).waitFor();
  await applyRow.getByRole("button", { name: "Roll back" }).waitFor();
  await page.locator(".op-row", { hasText: "vault rollback" }).getByText("succeeded").waitFor();

  step("the asset page lists the research files about it, and its fundamentals");
  await page.goto(`${base}/assets/AAPL`);
  await page.getByRole("table", { name: "Research files" }).getByText("AAPL_10-K_2023.pdf").waitFor();
  const fundamentals = page.locator(".fundamentals");
  await fundamentals.getByText(/simulated|No fundamentals yet/).first().waitFor();
  if (await fundamentals.getByRole("alert").count()) throw new Error(await fundamentals.innerText());
  await shot("10-asset-files");

  step("on a phone: the menu, then log out");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Universes" }).click();
  await page.getByRole("heading", { name: "Universes" }).waitFor();
  if (await page.getByRole("navigation", { name: "Main" }).isVisible()) throw new Error("the phone menu stayed open");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.goto(`${base}/trading`);
  await page.getByRole("heading", { name: "Log in" }).waitFor(); // the session really ended
  await page.screenshot({ path: join(out, "06-logged-out-phone-390.png") });

  if (process.env.ADMIN_EMAIL) {
    step("a wrong password is explained; an admin reads the Ops page");
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.getByLabel("Email").fill(process.env.ADMIN_EMAIL);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByLabel("Password").fill(process.env.ADMIN_PASSWORD ?? "");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("link", { name: "Ops" }).click();
    await page.getByRole("heading", { name: "Market data operations" }).waitFor();
    await page.getByRole("heading", { name: "Quotas" }).waitFor();
    await page.getByRole("table", { name: "Provider health" }).getByText("simulated").first().waitFor();
    await page.getByRole("table", { name: "Data types" }).getByRole("cell", { name: "quote", exact: true }).waitFor();
    await shot("07-ops");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
  }
  if (process.env.BIG_EMAIL) {
    const size = Number(process.env.BIG_SIZE);
    step(`a universe of ${size} assets stays responsive`);
    await page.getByLabel("Email").fill(process.env.BIG_EMAIL);
    await page.getByLabel("Password").fill(process.env.BIG_PASSWORD ?? "");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Universes" }).waitFor();
    const opened = Date.now();
    await page.getByRole("link", { name: `Big ${size}` }).click();
    await page.getByText(`${size.toLocaleString("en-US")} of ${size.toLocaleString("en-US")}`).waitFor();
    const loadMs = Date.now() - opened;
    const rendered = await page.locator(".vbody [role=row]").count();
    const lastSymbol = await page.evaluate(async () => {
      const body = document.querySelector(".vbody");
      body.scrollTop = body.scrollHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const rows = [...document.querySelectorAll(".vbody [role=row]")];
      return rows.at(-1)?.getAttribute("aria-rowindex");
    });
    // A frame budget for a jump of 5,000 rows: the time the page is busy for a scroll.
    const scrollMs = await page.evaluate(async () => {
      const body = document.querySelector(".vbody");
      const started = performance.now();
      for (let i = 0; i < 20; i++) {
        body.scrollTop = Math.random() * body.scrollHeight;
        await new Promise((r) => requestAnimationFrame(r));
      }
      return (performance.now() - started) / 20;
    });
    console.log(`[e2e] ${size} assets: loaded in ${loadMs} ms, ${rendered} rows in the DOM, ${scrollMs.toFixed(1)} ms a scroll frame`);
    if (rendered > 100) throw new Error(`${rendered} rows in the DOM for ${size} assets: the table is not virtualised`);
    if (Number(lastSymbol) !== size + 1) throw new Error(`scrolled to the end, the last row is ${lastSymbol}, not ${size + 1}`);
    if (loadMs > 15_000) throw new Error(`${size} assets took ${loadMs} ms to load`);
    if (scrollMs > 100) throw new Error(`a scroll frame took ${scrollMs.toFixed(1)} ms on average`);
    await shot("08-big-universe");
  }

  if (problems.length) throw new Error(`the browser reported errors:\n${problems.join("\n")}`);
  step("passed");
} catch (err) {
  await page.screenshot({ path: join(out, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`[e2e] FAILED: ${err instanceof Error ? err.stack : err}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
