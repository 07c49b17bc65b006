// The dashboard's first render in Debian's chromium (headless, puppeteer-core): for each of
// RUNS fresh page loads, the time from navigation start until the page's script has rendered
// every environment (what serves, the servers, flags), by the page's own clock. Prints one line: "render MEDIAN_MS MAX_MS".
// Usage: node bench.mjs URL RUNS
import puppeteer from "puppeteer-core";

const [url, runs] = [process.argv[2], Number(process.argv[3] || 10)];
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const page = await browser.newPage();
    await page.setCacheEnabled(false);
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.runnerRenderedAt !== undefined &&
      document.querySelectorAll("section[data-env] [data-field=serving]").length >= 2, { timeout: 10000, polling: 20 });
    // From navigation start to the end of the script's first render (the page's own clock).
    times.push(await page.evaluate(() => window.runnerRenderedAt));
    if (process.env.BENCH_DETAIL) console.error(await page.evaluate(() => JSON.stringify(performance.getEntries().map((e) => [e.name.replace(location.origin, ""), Math.round(e.startTime), Math.round(e.responseEnd || e.duration)]))));
    await page.close();
  }
  times.sort((a, b) => a - b);
  console.log(`render ${times[Math.floor(times.length / 2)].toFixed(1)} ${times[times.length - 1].toFixed(1)}`);
} finally {
  await browser.close();
}
