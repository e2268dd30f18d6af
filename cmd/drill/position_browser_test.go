package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The position page, made from real drills, opened in a real headless
// browser (Debian's chromium; make test installs it and requires it with
// DRILL_REQUIRE_BROWSER=1): it shows every service and fetches nothing.
// DRILL_UPDATE_SCREENSHOT=1 also writes docs/position.png.
func TestPositionPageInBrowser(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("DRILL_REQUIRE_BROWSER") != "" {
			t.Fatalf("chromium not found, and DRILL_REQUIRE_BROWSER is set: apt-get install chromium (make test-deps does)")
		}
		t.Skip("no chromium: apt-get install chromium")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "f"), []byte("content\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "backups"), 0o755))
	if out, err := exec.Command("tar", "-czf", filepath.Join(dir, "backups/a.tar.gz"), "-C", data, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	cfg := filepath.Join(dir, "drill.yaml")
	must(t, os.WriteFile(cfg, []byte(`state_dir: state
socket: drill.sock
services:
  files: {owner: ops@example.org, priority: 1, rpo: 1d, rto: 1h, review_every: 7d, description: "home directories <all of them>"}
  billing: {owner: dba@example.org, priority: 1, rpo: 4h, rto: 2h, review_every: 7d}
  archive: {owner: records@example.org, priority: 2, review_every: 30d}
drills:
  home: {service: files, backend: filesystem, source: {archive: backups/a.tar.gz}}
  ledger: {service: billing, backend: filesystem, source: {archive: backups/a.tar.gz}, checks: {min_files: 1000}}
`), 0o644))
	drillCmd(t, cfg, "run", "home")
	drillCmd(t, cfg, "run", "home")
	drillCmd(t, cfg, "run", "ledger")
	page := filepath.Join(dir, "position.html")
	if _, errs, code := drillCmd(t, cfg, "position", "--html", page); code != 0 {
		t.Fatalf("drill position --html: exit %d: %s", code, errs)
	}

	// Every request the browser makes goes to this proxy. Chromium's own
	// background traffic (component updates, clock, sign-in) goes to
	// Google's service hosts whatever the page; any other request is the
	// page's, and there must be none.
	var requests atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		host, _, _ = strings.Cut(host, ":")
		for _, svc := range []string{"update.googleapis.com", "clients2.google.com", "accounts.google.com", "clientservices.googleapis.com", "redirector.gvt1.com"} {
			if host == svc {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
		}
		requests.Add(1)
		t.Logf("the page requested %s %s", r.Method, r.URL)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer proxy.Close()
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
			"--disable-background-networking", "--disable-sync", "--disable-component-update", "--disable-default-apps",
			"--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-pings", "--disable-breakpad",
			"--metrics-recording-only", "--no-default-browser-check", "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,SigninInterceptBubbleV2,ChromeWhatsNewUI",
			"--proxy-server=" + proxy.URL, "--proxy-bypass-list=<-loopback>", "--user-data-dir=" + filepath.Join(dir, "profile")}
		cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
		}
		return out.Bytes()
	}
	dom := string(run("--dump-dom", "file://"+page))
	for _, want := range []string{"files", "billing", "archive", "ops@example.org", "home directories &lt;all of them&gt;",
		`class="badge proven"`, `class="badge failing"`, `class="badge untested"`, "drill ledger"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	// Nothing in the rendered page refers to anything outside it.
	for _, ref := range []string{" src=", " href=", "url(", "@import"} {
		if strings.Contains(dom, ref) {
			t.Errorf("the rendered page holds %q: it must be self-contained", ref)
		}
	}
	shot := filepath.Join(dir, "position.png")
	run("--screenshot="+shot, "--window-size=1280,720", "--hide-scrollbars", "file://"+page)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("screenshot: %v, %d bytes", err, len(png))
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the page made %d network requests; it must make none", n)
	}
	if os.Getenv("DRILL_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile("../../docs/position.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
