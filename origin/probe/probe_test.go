package probe_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tern-cdn/tern/internal/testkit"
	"github.com/tern-cdn/tern/origin/probe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint is a loopback health endpoint whose status is switchable; a
// status of 0 hangs until the request ends.
type endpoint struct {
	*httptest.Server
	status atomic.Int64
	hits   atomic.Int64
	mu     sync.Mutex
	hosts  []string
}

func newEndpoint(t *testing.T, status int) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.status.Store(int64(status))
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		e.mu.Lock()
		e.hosts = append(e.hosts, r.Host)
		e.mu.Unlock()
		code := int(e.status.Load())
		if code == 0 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(e.Close)
	return e
}

// recorder collects the hooks' calls.
type recorder struct {
	mu      sync.Mutex
	checks  []probe.Check
	changes []probe.Check
}

func (r *recorder) options() probe.Options {
	return probe.Options{
		OnCheck:  func(c probe.Check) { r.mu.Lock(); r.checks = append(r.checks, c); r.mu.Unlock() },
		OnChange: func(c probe.Check) { r.mu.Lock(); r.changes = append(r.changes, c); r.mu.Unlock() },
	}
}

func (r *recorder) snapshot() (checks, changes []probe.Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]probe.Check(nil), r.checks...), append([]probe.Check(nil), r.changes...)
}

// last is the last change, zero if none.
func (r *recorder) last() probe.Check {
	_, ch := r.snapshot()
	if len(ch) == 0 {
		return probe.Check{}
	}
	return ch[len(ch)-1]
}

// start runs p; the returned stop (also called when the test ends)
// cancels Run's context and checks that Run returns nil soon after.
func start(t *testing.T, p *probe.Prober) (stop func()) {
	t.Helper()
	return testkit.Run(t, 5*time.Second, p.Run)
}

func newProber(t *testing.T, cfg probe.Config, targets []probe.Target, opts probe.Options) *probe.Prober {
	t.Helper()
	p, err := probe.New(cfg, targets, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRiseFall(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, http.StatusOK)
	pass := prometheus.NewCounter(prometheus.CounterOpts{Name: "pass"})
	fail := prometheus.NewCounter(prometheus.CounterOpts{Name: "fail"})
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "up"})
	var rec recorder
	p := newProber(t, probe.Config{Interval: 5 * time.Millisecond, Rise: 3, Fall: 2},
		[]probe.Target{{Name: "a", URL: e.URL + "/healthz", Pass: pass, Fail: fail, Up: up}}, rec.options())
	if got := testutil.ToFloat64(up); got != 0 {
		t.Fatalf("up gauge %v before the first check, want 0", got)
	}
	start(t, p)

	// The first check decides an unchecked target.
	testkit.Eventually(t, 5*time.Second, "up", func() bool { return rec.last().To == probe.Up })
	if c := rec.last(); c.From != probe.Unchecked || c.Passes != 1 || c.Name != "a" || c.Target != 0 {
		t.Errorf("first change %+v, want unchecked → up after 1 pass", c)
	}
	if got := testutil.ToFloat64(up); got != 1 {
		t.Errorf("up gauge %v, want 1", got)
	}

	e.status.Store(http.StatusServiceUnavailable)
	testkit.Eventually(t, 5*time.Second, "down", func() bool { return rec.last().To == probe.Down })
	if c := rec.last(); c.From != probe.Up || c.Fails != 2 || !strings.Contains(c.Why, "503") {
		t.Errorf("change %+v, want up → down after Fall=2 failures with the status", c)
	}
	if got := testutil.ToFloat64(fail); got != 2 {
		t.Errorf("fail counter %v at the change, want 2", got)
	}
	if got := testutil.ToFloat64(up); got != 0 {
		t.Errorf("up gauge %v, want 0", got)
	}

	e.status.Store(http.StatusNoContent)
	testkit.Eventually(t, 5*time.Second, "up again", func() bool { return rec.last().From == probe.Down })
	if c := rec.last(); c.To != probe.Up || c.Passes != 3 {
		t.Errorf("change %+v, want down → up after Rise=3 passes", c)
	}
	checks, changes := rec.snapshot()
	if len(changes) != 3 {
		t.Errorf("%d changes, want 3: %+v", len(changes), changes)
	}
	for i, c := range checks {
		if c.Passed() == (c.Passes == 0) || (c.Passes == 0) == (c.Fails == 0) {
			t.Errorf("check %d counts %d passes and %d fails (passed %v)", i, c.Passes, c.Fails, c.Passed())
		}
	}
}

// A target that starts Up needs Fall failures to go down, even at first.
func TestStartUp(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, http.StatusInternalServerError)
	var rec recorder
	p := newProber(t, probe.Config{Interval: 5 * time.Millisecond, Fall: 3, Start: probe.Up},
		[]probe.Target{{Name: "a", URL: e.URL}}, rec.options())
	start(t, p)
	testkit.Eventually(t, 5*time.Second, "down", func() bool { return rec.last().To == probe.Down })
	checks, changes := rec.snapshot()
	if len(changes) != 1 || changes[0].From != probe.Up || changes[0].Fails != 3 {
		t.Errorf("changes %+v, want one up → down after 3 failures", changes)
	}
	for _, c := range checks[:2] {
		if c.To != probe.Up {
			t.Errorf("check %+v left Up before Fall", c)
		}
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, 0) // hangs
	var rec recorder
	p := newProber(t, probe.Config{Interval: time.Hour, Timeout: 50 * time.Millisecond},
		[]probe.Target{{Name: "hung", URL: e.URL}}, rec.options())
	begin := time.Now()
	start(t, p)
	testkit.Eventually(t, 5*time.Second, "the first check", func() bool { return rec.last().To == probe.Down })
	if took := time.Since(begin); took < 50*time.Millisecond {
		t.Errorf("a hung check failed after %v, before its timeout", took)
	}
	if c := rec.last(); c.Why != "no response headers within 50ms" {
		t.Errorf("why %q", c.Why)
	}
}

// Hold keeps a recovering target down; its passes go on counting and it
// comes up at the first pass Hold lets through.
func TestHold(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, http.StatusBadGateway)
	var held atomic.Bool
	held.Store(true)
	var asked atomic.Int64
	var rec recorder
	opts := rec.options()
	opts.Hold = func(i int) bool {
		if i != 0 {
			t.Errorf("Hold(%d), want target 0", i)
		}
		asked.Add(1)
		return held.Load()
	}
	p := newProber(t, probe.Config{Interval: 5 * time.Millisecond, Rise: 2},
		[]probe.Target{{Name: "a", URL: e.URL}}, opts)
	start(t, p)
	testkit.Eventually(t, 5*time.Second, "down", func() bool { return rec.last().To == probe.Down })
	e.status.Store(http.StatusOK)
	testkit.Eventually(t, 5*time.Second, "Hold asked twice", func() bool { return asked.Load() >= 2 })
	if c := rec.last(); c.To != probe.Down {
		t.Fatalf("a held target changed: %+v", c)
	}
	held.Store(false)
	testkit.Eventually(t, 5*time.Second, "up", func() bool { return rec.last().To == probe.Up })
	if c := rec.last(); c.Passes < 3 {
		t.Errorf("came up after %d passes, want those counted while held too", c.Passes)
	}
}

func TestExpectAndHost(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, http.StatusFound)
	var def, strict recorder
	p1 := newProber(t, probe.Config{Interval: time.Hour}, []probe.Target{{Name: "a", URL: e.URL, Host: "origin.example"}}, def.options())
	p2 := newProber(t, probe.Config{Interval: time.Hour, Expect: probe.Codes{Min: 200, Max: 299}},
		[]probe.Target{{Name: "a", URL: e.URL}}, strict.options())
	start(t, p1)
	start(t, p2)
	testkit.Eventually(t, 5*time.Second, "both first checks", func() bool { return def.last().Changed() && strict.last().Changed() })
	if c := def.last(); c.To != probe.Up {
		t.Errorf("302 with the default Expect: %+v, want up", c)
	}
	if c := strict.last(); c.To != probe.Down || !strings.Contains(c.Why, "302") {
		t.Errorf("302 with Expect 2xx: %+v, want down", c)
	}
	e.mu.Lock()
	hosts := append([]string(nil), e.hosts...)
	e.mu.Unlock()
	if !strings.Contains(strings.Join(hosts, " "), "origin.example") {
		t.Errorf("hosts %q, want the target's Host header", hosts)
	}
}

// Run stops when its context ends, a check it cuts short is not counted,
// and it closes its own transport's connections (goleak checks).
func TestStop(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, 0) // hangs
	ok := newEndpoint(t, http.StatusOK)
	var rec recorder
	p := newProber(t, probe.Config{Interval: time.Minute, Timeout: time.Minute},
		[]probe.Target{{Name: "hung", URL: e.URL}, {Name: "ok", URL: ok.URL}}, rec.options())
	stop := start(t, p)
	testkit.Eventually(t, 5*time.Second, "a check in flight and one done", func() bool { return e.hits.Load() > 0 && rec.last().Changed() })
	if err := p.Run(t.Context()); err == nil {
		t.Error("a second Run returned nil")
	}
	stop()
	checks, _ := rec.snapshot()
	if len(checks) != 1 || checks[0].Name != "ok" {
		t.Errorf("checks %+v, want only ok's (the hung one was cut short)", checks)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	good := []probe.Target{{Name: "a", URL: "http://127.0.0.1:1/healthz"}}
	for _, tc := range []struct {
		name    string
		cfg     probe.Config
		targets []probe.Target
	}{
		{"negative interval", probe.Config{Interval: -1}, good},
		{"negative fall", probe.Config{Fall: -1}, good},
		{"jitter above 1", probe.Config{Jitter: 1.5}, good},
		{"inverted codes", probe.Config{Expect: probe.Codes{Min: 300, Max: 200}}, good},
		{"unknown start", probe.Config{Start: 7}, good},
		{"relative URL", probe.Config{}, []probe.Target{{Name: "a", URL: "/healthz"}}},
		{"ftp URL", probe.Config{}, []probe.Target{{Name: "a", URL: "ftp://127.0.0.1/"}}},
	} {
		if _, err := probe.New(tc.cfg, tc.targets, probe.Options{}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	p := newProber(t, probe.Config{}, good, probe.Options{})
	want := probe.Config{Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3, Jitter: 0.1,
		Expect: probe.Codes{Min: 200, Max: 399}, UserAgent: "tern-health-check"}
	if got := p.Config(); got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
}
