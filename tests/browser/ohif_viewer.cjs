// Drives OHIF in headless Chromium: the study list, then one study in the viewer.
// Prints one JSON object: every response OHIF received (URL, method, status), failed requests,
// console errors, and whether the study list showed the patient. Exit code 0 unless the browser
// itself could not be driven; the Python test judges the results.
//
//   node ohif_viewer.cjs BASE_URL STUDY_UID PATIENT_NAME SCREENSHOT.png
const { chromium } = require('playwright-core');

async function main() {
  const [base, studyUid, patientName, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
  });
  const result = { responses: [], failed: [], consoleErrors: [], studyListShown: false, viewportBox: null };
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('response', (r) =>
      result.responses.push({ url: r.url(), method: r.request().method(), status: r.status() }),
    );
    page.on('requestfailed', (r) =>
      result.failed.push({ url: r.url(), method: r.method(), error: (r.failure() || {}).errorText }),
    );
    page.on('console', (m) => {
      if (m.type() === 'error') result.consoleErrors.push(m.text().slice(0, 300));
    });

    await page.goto(base + '/', { waitUntil: 'load' });
    try {
      await page.getByText(patientName, { exact: false }).first().waitFor({ timeout: 60000 });
      result.studyListShown = true;
    } catch (e) {
      result.studyListError = String(e).slice(0, 300);
    }

    await page.goto(base + '/viewer?StudyInstanceUIDs=' + encodeURIComponent(studyUid), { waitUntil: 'load' });
    const viewport = page.locator('[data-viewport-uid] canvas, .cornerstone-canvas').first();
    await viewport.waitFor({ state: 'visible', timeout: 90000 });
    // Give the image loader time to fetch and draw the frames (the Python side checks the pixels).
    await page.waitForLoadState('networkidle', { timeout: 60000 }).catch(() => {});
    await page.waitForTimeout(3000);
    // The first-visit guided tour dims the whole page behind its pop-up: dismiss it.
    const skip = page.getByText('Skip all');
    if (await skip.count()) await skip.first().click().catch(() => {});
    await page.evaluate(() =>
      document.querySelectorAll('.shepherd-modal-overlay-container, .shepherd-element').forEach((e) => e.remove()),
    );
    await page.waitForTimeout(500);
    result.viewportBox = await viewport.boundingBox();
    await page.screenshot({ path: screenshot });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(2);
});
