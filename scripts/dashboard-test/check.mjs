// Drives Debian's chromium (headless, through puppeteer-core: no browser download) against a
// running `runner dashboard`. Protocol with the Rust test on stdin/stdout, one line each:
//   page shows the environments, then prints "READY"; waits for "PROMOTED" on stdin, then
//   waits up to 2 s, without a reload, for the page to show the canary promoted; then tries an
//   action from the page's origin and prints its HTTP status; screenshots into SHOTS.
// Usage: node check.mjs URL STAGING_RELEASE CANARY_RELEASE SHOTS_DIR
import puppeteer from "puppeteer-core";
import readline from "node:readline";

const [url, stagingRelease, canary, shots] = process.argv.slice(2);
const fail = (why) => { console.log("FAIL " + why); process.exit(1); };
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(url.replace(/\/$/, ""))) external.push(r.url()); });
  await page.goto(url, { waitUntil: "networkidle2" });
  await page.waitForSelector('section[data-env="production"]', { timeout: 5000 });
  const text = (sel) => page.$eval(sel, (n) => n.textContent).catch(() => "");
  if (!(await text('section[data-env="staging"] [data-field="serving"]')).includes(stagingRelease)) fail("staging does not show " + stagingRelease);
  const canaryText = await text('section[data-env="production"] [data-field="canary"]');
  if (!canaryText.includes(canary) || !canaryText.includes("%")) fail("production does not show the paused canary: " + canaryText);
  if (!(await text("#flags h2")).includes("feature flags")) fail("the page has no flags section");
  if (external.length) fail("the page loaded something from elsewhere: " + external.join(", "));
  const loadedAt = await page.evaluate(() => window.runnerLoadedAt);
  if (shots) await page.screenshot({ path: shots + "/dashboard-canary.png", fullPage: true });
  // Keyboard: every control can be reached with Tab and has a name.
  const unnamed = await page.$$eval("button, input", (nodes) => nodes.filter((n) => !(n.getAttribute("aria-label") || (n.labels && n.labels.length) || n.textContent.trim())).length);
  if (unnamed) fail(unnamed + " controls have no accessible name");
  console.log("READY " + canaryText.trim());
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() !== "PROMOTED") continue;
    const started = Date.now();
    await page.waitForFunction(
      (c) => { const s = document.querySelector('section[data-env="production"] [data-field="serving"]'); return s && s.textContent.includes(c) && !document.querySelector('section[data-env="production"] [data-field="canary"]'); },
      { timeout: 2000, polling: 50 }, canary,
    ).catch(() => fail("the page did not show the promotion within 2 s"));
    if ((await page.evaluate(() => window.runnerLoadedAt)) !== loadedAt) fail("the page was reloaded");
    const took = Date.now() - started;
    if (shots) await page.screenshot({ path: shots + "/dashboard-promoted.png", fullPage: true });
    const status = await page.evaluate(async () => (await fetch("/api/action", { method: "POST", body: JSON.stringify({ action: "rollback", env: "production", approver: "mallory", token: "" }) })).status);
    console.log(`UPDATED ${took} ms; ACTION ${status}`);
    break;
  }
} finally {
  await browser.close();
}
