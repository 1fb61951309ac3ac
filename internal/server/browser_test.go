package server

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser the browser test drives.
const chromiumPath = "/usr/bin/chromium"

var updateScreenshots = flag.Bool("screenshots", false, "write the dashboard screenshots to docs/screenshots/")

// TestBrowser loads the overview and a model page of the dashboard on the
// demo data in headless Chromium, checks that the pages render their
// charts with threshold lines, and saves screenshots (under the test's
// temporary directory; with -screenshots also to docs/screenshots/).
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("headless browser test skipped: %s not found (install Chromium, e.g. apt-get install -y chromium)", chromiumPath)
	}
	f := newFixture(t)
	f.loadDemo()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	shots := t.TempDir()
	save := func(name string, png []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if *updateScreenshots {
			dir := filepath.Join("..", "..", "docs", "screenshots")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The overview: one card per model, threshold states.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(f.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("section.model-card"))); err != nil {
		t.Fatalf("loading the overview: %v", err)
	}
	cards, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("section.model-card").length`))
	if err != nil {
		t.Fatal(err)
	}
	if cards != 2 {
		t.Errorf("overview shows %d models, want 2", cards)
	}
	states, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section.model-card .state")).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 3 || states[0] != "crossed" {
		t.Errorf("overview threshold states %q", states)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	save("overview.png", png)

	// A model page: the chart is there, with its threshold lines, drawn.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/models/boreas"), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
		t.Fatalf("loading the model page: %v", err)
	}
	type chartInfo struct {
		Charts   int     `json:"charts"`
		Triggers int     `json:"triggers"`
		Warnings int     `json:"warnings"`
		Points   int     `json:"points"`
		Fit      int     `json:"fit"`
		Width    float64 `json:"width"`
		Stroke   string  `json:"stroke"`
	}
	info, err := chromedp.Run(ctx, chromedp.Evaluate[chartInfo](`(() => {
		const svg = document.querySelector("svg.chart");
		const trig = svg.querySelector("line.level-trigger");
		return {
			charts: document.querySelectorAll("svg.chart").length,
			triggers: svg.querySelectorAll("line.level-trigger").length,
			warnings: svg.querySelectorAll("line.level-warning").length,
			points: svg.querySelectorAll("circle.pt").length,
			fit: svg.querySelectorAll("polyline.fit").length,
			width: svg.getBoundingClientRect().width,
			stroke: getComputedStyle(trig).stroke,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if info.Charts != 1 || info.Triggers != 1 || info.Warnings != 1 || info.Points != 6 || info.Fit != 1 || info.Width < 600 || info.Stroke == "" || info.Stroke == "none" {
		t.Errorf("boreas chart as rendered: %+v", info)
	}
	// The atlas page: hollow points for weak elicitation.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/models/atlas"), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
		t.Fatalf("loading the model page: %v", err)
	}
	hollow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart circle.pt.hollow").length`))
	if err != nil {
		t.Fatal(err)
	}
	if hollow != 1 {
		t.Errorf("atlas page: %d hollow points, want 1", hollow)
	}
	png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	save("model.png", png)
	t.Logf("screenshots in %s", shots)
}
