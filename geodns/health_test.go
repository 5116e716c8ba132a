package geodns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tern-cdn/tern/geodns"
	"github.com/tern-cdn/tern/internal/testkit"
)

// fastHealth checks every 20ms; a healthy loopback edge answers well
// within Timeout even under -race.
var fastHealth = geodns.HealthConfig{Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2}

// testEdge is a real HTTP server answering health checks: 200 while ok,
// 503 while failing, nothing (until the check gives up) while hung.
type testEdge struct {
	srv  *httptest.Server
	mode atomic.Int32 // edgeOK, edgeFailing, edgeHung
	hits atomic.Int64
	// hook, if set, runs for each check before it is answered, with the
	// mode that answer has.
	hook atomic.Pointer[func(mode int32)]
	stop chan struct{}
}

const (
	edgeOK int32 = iota
	edgeFailing
	edgeHung
)

func startEdge(t *testing.T) *testEdge {
	t.Helper()
	te := &testEdge{stop: make(chan struct{})}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.hits.Add(1)
		mode := te.mode.Load()
		if f := te.hook.Load(); f != nil {
			(*f)(mode)
		}
		switch mode {
		case edgeFailing:
			w.WriteHeader(http.StatusServiceUnavailable)
		case edgeHung:
			select {
			case <-r.Context().Done():
			case <-te.stop:
			}
		}
	}))
	t.Cleanup(te.srv.Close)
	t.Cleanup(func() { close(te.stop) }) // runs first: hung handlers return
	return te
}

func (te *testEdge) url() string { return te.srv.URL + "/healthz" }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newHealth(t *testing.T, cfg geodns.HealthConfig, dcs []geodns.CheckedDatacenter, edges []geodns.CheckedEdge, opts geodns.HealthOptions) *geodns.Health {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	h, err := geodns.NewHealth(cfg, dcs, edges, opts)
	if err != nil {
		t.Fatalf("NewHealth: %v", err)
	}
	return h
}

// run runs h's checks until the test ends, then checks that Run returns.
func run(t *testing.T, h *geodns.Health) {
	t.Helper()
	testkit.Run(t, 5*time.Second, h.Run)
}

func edgeStatus(t *testing.T, h *geodns.Health, name string) geodns.EdgeHealthStatus {
	t.Helper()
	for _, d := range h.Status().Datacenters {
		for _, e := range d.Edges {
			if e.Name == name {
				return e
			}
		}
	}
	t.Fatalf("edge %q not in Status", name)
	return geodns.EdgeHealthStatus{}
}

// checkedAll waits until every edge has been checked at least once.
func checkedAll(t *testing.T, h *geodns.Health) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "a first check of every edge", func() bool {
		for _, d := range h.Status().Datacenters {
			for _, e := range d.Edges {
				if e.LastCheck.IsZero() {
					return false
				}
			}
		}
		return true
	})
}

func TestHealthEdgeFallsAndRises(t *testing.T) {
	t.Parallel()
	cfg := fastHealth
	cfg.Rise, cfg.Fall = 2, 3
	bad, good := startEdge(t), startEdge(t)

	var h *geodns.Health
	var changes, overlaps atomic.Int64
	var inside atomic.Bool
	onChange := func() {
		if !inside.CompareAndSwap(false, true) {
			overlaps.Add(1)
		}
		changes.Add(1)
		_ = h.Status() // would deadlock if a lock were held
		inside.Store(false)
	}
	h = newHealth(t, cfg,
		[]geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "bad", Datacenter: "dc", URL: bad.url()}, {Name: "good", Datacenter: "dc", URL: good.url()}},
		geodns.HealthOptions{OnChange: onChange})

	// While the edge serves its n-th failing (or passing) answer, only
	// n-1 have been recorded: it must not have flipped before Fall (Rise).
	var fails, passes, early atomic.Int64
	hook := func(mode int32) {
		switch mode {
		case edgeFailing:
			if fails.Add(1) <= int64(cfg.Fall) && !h.State().EdgeUsable("bad") {
				early.Add(1)
			}
		case edgeOK:
			if fails.Load() > 0 && passes.Add(1) <= int64(cfg.Rise) && h.State().EdgeUsable("bad") {
				early.Add(1)
			}
		}
	}
	bad.hook.Store(&hook)

	if s := h.State(); s.EdgeUsable("bad") || !s.EdgeUnchecked("bad") || s.DatacenterUp("dc") || !s.DatacenterUnchecked("dc") {
		t.Fatal("edges and data centers must start unchecked, neither up nor down")
	}
	run(t, h)
	checkedAll(t, h)
	v0 := h.State().Version()

	bad.mode.Store(edgeFailing)
	testkit.Eventually(t, 10*time.Second, "the failing edge to go down", func() bool { return !h.State().EdgeUsable("bad") })
	if n := fails.Load(); n < int64(cfg.Fall) {
		t.Errorf("down after %d failed checks, want at least Fall=%d", n, cfg.Fall)
	}
	s := h.State()
	if s.Version() <= v0 {
		t.Errorf("Version %d after the edge went down, was %d", s.Version(), v0)
	}
	if !s.EdgeUsable("good") || !s.DatacenterUp("dc") {
		t.Error("the other edge and the data center must stay up")
	}
	testkit.Eventually(t, 10*time.Second, "OnChange", func() bool { return changes.Load() >= 1 })
	st := edgeStatus(t, h, "bad")
	if st.Healthy || st.Usable || st.ConsecutiveFails < cfg.Fall || !strings.Contains(st.LastError, "503") {
		t.Errorf("status of the down edge: %+v", st)
	}

	v1, c1 := h.State().Version(), changes.Load()
	bad.mode.Store(edgeOK)
	testkit.Eventually(t, 10*time.Second, "the edge to come back", func() bool { return h.State().EdgeUsable("bad") })
	if n := passes.Load(); n < int64(cfg.Rise) {
		t.Errorf("up after %d passed checks, want at least Rise=%d", n, cfg.Rise)
	}
	if h.State().Version() <= v1 {
		t.Errorf("Version did not grow when the edge came back")
	}
	testkit.Eventually(t, 10*time.Second, "OnChange", func() bool { return changes.Load() > c1 })
	if n := early.Load(); n > 0 {
		t.Errorf("the edge flipped before Fall or Rise checks %d times", n)
	}
	if n := overlaps.Load(); n > 0 {
		t.Errorf("OnChange ran concurrently with itself %d times", n)
	}
	st = edgeStatus(t, h, "bad")
	if !st.Healthy || !st.Usable || st.LastError != "" {
		t.Errorf("status of the recovered edge: %+v", st)
	}
}

func TestHealthDeadEdge(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/healthz"
	dead.Close() // connection refused from now on
	good := startEdge(t)
	h := newHealth(t, fastHealth,
		[]geodns.CheckedDatacenter{{Name: "dead"}, {Name: "good"}},
		[]geodns.CheckedEdge{{Name: "d1", Datacenter: "dead", URL: url}, {Name: "g1", Datacenter: "good", URL: good.url()}},
		geodns.HealthOptions{})
	run(t, h)
	checkedAll(t, h)
	testkit.Eventually(t, 10*time.Second, "the refusing data center to fail over", func() bool { return !h.State().DatacenterUnchecked("dead") })
	if h.State().EdgeUsable("d1") || !h.State().DatacenterUp("good") {
		t.Errorf("after failover: d1 usable %v, good up %v", h.State().EdgeUsable("d1"), h.State().DatacenterUp("good"))
	}
	if st := edgeStatus(t, h, "d1"); !strings.Contains(st.LastError, "refused") {
		t.Errorf("last error %q, want connection refused", st.LastError)
	}
}

func TestHealthHungEdge(t *testing.T) {
	t.Parallel()
	hung := startEdge(t)
	hung.mode.Store(edgeHung)
	cfg := fastHealth
	cfg.Timeout = 50 * time.Millisecond
	h := newHealth(t, cfg,
		[]geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "h1", Datacenter: "dc", URL: hung.url()}},
		geodns.HealthOptions{})
	run(t, h)
	checkedAll(t, h)
	if h.State().DatacenterUp("dc") {
		t.Error("data center of its only, hung edge still up")
	}
	if st := edgeStatus(t, h, "h1"); !strings.Contains(st.LastError, "no response headers within 50ms") {
		t.Errorf("last error %q", st.LastError)
	}
}

func TestHealthDatacenterMinUp(t *testing.T) {
	t.Parallel()
	e := []*testEdge{startEdge(t), startEdge(t), startEdge(t)}
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	h := newHealth(t, fastHealth,
		[]geodns.CheckedDatacenter{{Name: "dc", MinUp: 2}},
		[]geodns.CheckedEdge{
			{Name: "e0", Datacenter: "dc", URL: e[0].url()},
			{Name: "e1", Datacenter: "dc", URL: e[1].url()},
			{Name: "e2", Datacenter: "dc", URL: e[2].url()},
		},
		geodns.HealthOptions{Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	run(t, h)
	checkedAll(t, h)

	e[0].mode.Store(edgeFailing)
	testkit.Eventually(t, 10*time.Second, "e0 down", func() bool { return !h.State().EdgeUsable("e0") })
	if !h.State().DatacenterUp("dc") {
		t.Fatal("data center down with 2 of 3 edges up, MinUp 2")
	}
	e[1].mode.Store(edgeFailing)
	testkit.Eventually(t, 10*time.Second, "the data center down", func() bool { return !h.State().DatacenterUp("dc") })
	if got := testkit.Value(t, reg, "tern_dns_datacenter_failovers_total", "datacenter", "dc"); got != 1 {
		t.Errorf("failovers %v, want 1", got)
	}
	testkit.Eventually(t, 10*time.Second, "the datacenter-down log", func() bool {
		return strings.Contains(logs.String(), `level=ERROR msg="datacenter down" datacenter=dc`)
	})
	if st := h.Status().Datacenters[0]; st.Up || st.EdgesUsable != 1 || st.MinUp != 2 {
		t.Errorf("status %+v", st)
	}

	e[1].mode.Store(edgeOK)
	testkit.Eventually(t, 10*time.Second, "the data center back up", func() bool { return h.State().DatacenterUp("dc") })
	if h.State().EdgeUsable("e0") || !h.State().EdgeUsable("e1") {
		t.Error("only e1 should have recovered")
	}
	// Logs are written just after the state changes.
	testkit.Eventually(t, 10*time.Second, "the datacenter-up log", func() bool {
		return strings.Contains(logs.String(), `level=INFO msg="datacenter up" datacenter=dc`)
	})
}

func TestHealthDrain(t *testing.T) {
	t.Parallel()
	e := []*testEdge{startEdge(t), startEdge(t), startEdge(t)}
	var changes atomic.Int64
	var seen atomic.Uint64 // the state version the last OnChange saw
	var h *geodns.Health
	h = newHealth(t, fastHealth,
		[]geodns.CheckedDatacenter{{Name: "a"}, {Name: "b"}},
		[]geodns.CheckedEdge{
			{Name: "a1", Datacenter: "a", URL: e[0].url()},
			{Name: "a2", Datacenter: "a", URL: e[1].url()},
			{Name: "b1", Datacenter: "b", URL: e[2].url()},
		},
		geodns.HealthOptions{OnChange: func() { seen.Store(h.State().Version()); changes.Add(1) }})
	run(t, h)
	checkedAll(t, h)
	// The first checks changed the state: let their OnChange calls end.
	testkit.Eventually(t, 10*time.Second, "OnChange to see the checked state", func() bool { return seen.Load() == h.State().Version() })

	drain := func(kind, name string, drained bool) {
		t.Helper()
		if err := h.SetDrain(kind, name, drained); err != nil {
			t.Fatalf("SetDrain(%q, %q, %v): %v", kind, name, drained, err)
		}
	}
	want := func(a1, a2, b1, a, b bool) {
		t.Helper()
		s := h.State()
		got := [5]bool{s.EdgeUsable("a1"), s.EdgeUsable("a2"), s.EdgeUsable("b1"), s.DatacenterUp("a"), s.DatacenterUp("b")}
		if got != [5]bool{a1, a2, b1, a, b} {
			t.Errorf("usable a1 a2 b1, up a b: %v, want %v", got, [5]bool{a1, a2, b1, a, b})
		}
	}

	// The changes below come from SetDrain alone (all edges stay healthy),
	// so OnChange has run before SetDrain returns.
	v, c := h.State().Version(), changes.Load()
	drain(geodns.DrainEdge, "a1", true)
	want(false, true, true, true, true)
	// At least: a call coalesced from the first checks may still come.
	if h.State().Version() != v+1 || changes.Load() < c+1 {
		t.Errorf("after a drain: version %d (was %d), OnChange calls %d (were %d)", h.State().Version(), v, changes.Load(), c)
	}
	drain(geodns.DrainEdge, "a1", true) // idempotent
	if h.State().Version() != v+1 {
		t.Error("a repeated drain changed the state")
	}
	drain(geodns.DrainEdge, "a2", true)
	want(false, false, true, false, true)
	drain(geodns.DrainEdge, "a1", false)
	drain(geodns.DrainEdge, "a2", false)
	want(true, true, true, true, true)

	drain(geodns.DrainDatacenter, "a", true)
	want(false, false, true, false, true)
	st := h.Status().Datacenters[0]
	if st.Name != "a" || !st.Drained || st.Up || st.EdgesUsable != 0 || !st.Edges[0].Healthy || st.Edges[0].Drained {
		t.Errorf("status of the drained data center: %+v", st)
	}
	drain(geodns.DrainDatacenter, "a", false)
	want(true, true, true, true, true)

	for _, bad := range [][2]string{{geodns.DrainEdge, "a"}, {geodns.DrainDatacenter, "a1"}, {"rack", "a"}, {"", ""}} {
		if err := h.SetDrain(bad[0], bad[1], true); err == nil {
			t.Errorf("SetDrain(%q, %q) = nil, want an error", bad[0], bad[1])
		}
	}
	want(true, true, true, true, true)
}

func TestHealthMetrics(t *testing.T) {
	t.Parallel()
	ok, failing := startEdge(t), startEdge(t)
	failing.mode.Store(edgeFailing)
	m := prometheus.NewRegistry()
	h := newHealth(t, fastHealth,
		[]geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "ok", Datacenter: "dc", URL: ok.url()}, {Name: "failing", Datacenter: "dc", URL: failing.url()}},
		geodns.HealthOptions{Registerer: m})
	// Per edge healthy, drained, downs, flaps, flap held, and checks pass
	// and fail; per data center up, drained and failovers.
	if n := testkit.Series(t, m); n != 2*7+3 {
		t.Errorf("a fresh Health exports %d series, want every label set of every metric", n)
	}
	if got := testkit.Value(t, m, "tern_dns_edge_healthy", "datacenter", "dc", "edge", "failing"); got != 0 {
		t.Errorf("edge_healthy before any check = %v, want 0 (unchecked)", got)
	}
	run(t, h)
	checkedAll(t, h)

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tern_dns_edge_healthy", []string{"datacenter", "dc", "edge", "ok"}, 1},
		{"tern_dns_edge_healthy", []string{"datacenter", "dc", "edge", "failing"}, 0},
		{"tern_dns_edge_drained", []string{"datacenter", "dc", "edge", "ok"}, 0},
		{"tern_dns_edge_downs_total", []string{"datacenter", "dc", "edge", "ok"}, 0},
		{"tern_dns_edge_downs_total", []string{"datacenter", "dc", "edge", "failing"}, 1},
		{"tern_dns_datacenter_up", []string{"datacenter", "dc"}, 1},
		{"tern_dns_datacenter_drained", []string{"datacenter", "dc"}, 0},
		{"tern_dns_datacenter_failovers_total", []string{"datacenter", "dc"}, 0},
		{"tern_dns_health_checks_total", []string{"edge", "ok", "result", "fail"}, 0},
		{"tern_dns_health_checks_total", []string{"edge", "failing", "result", "pass"}, 0},
	} {
		if got := testkit.Value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := testkit.Value(t, m, "tern_dns_health_checks_total", "edge", "failing", "result", "fail"); got < 1 {
		t.Errorf("failing edge's failed checks = %v, want at least 1 (the first check decides)", got)
	}
	if got := testkit.Value(t, m, "tern_dns_health_checks_total", "edge", "ok", "result", "pass"); got < 1 {
		t.Errorf("ok edge's passed checks = %v", got)
	}

	if err := h.SetDrain(geodns.DrainEdge, "ok", true); err != nil {
		t.Fatal(err)
	}
	if got := testkit.Value(t, m, "tern_dns_edge_drained", "datacenter", "dc", "edge", "ok"); got != 1 {
		t.Errorf("edge_drained = %v after a drain", got)
	}
	if got := testkit.Value(t, m, "tern_dns_datacenter_up", "datacenter", "dc"); got != 0 {
		t.Errorf("datacenter_up = %v with no usable edge", got)
	}
	if got := testkit.Value(t, m, "tern_dns_datacenter_failovers_total", "datacenter", "dc"); got != 1 {
		t.Errorf("failovers = %v, want 1", got)
	}
	if err := h.SetDrain(geodns.DrainEdge, "ok", false); err != nil {
		t.Fatal(err)
	}
	if err := h.SetDrain(geodns.DrainDatacenter, "dc", true); err != nil {
		t.Fatal(err)
	}
	if got := testkit.Value(t, m, "tern_dns_datacenter_drained", "datacenter", "dc"); got != 1 {
		t.Errorf("datacenter_drained = %v after a drain", got)
	}
	if got := testkit.Value(t, m, "tern_dns_datacenter_failovers_total", "datacenter", "dc"); got != 2 {
		t.Errorf("failovers = %v, want 2", got)
	}
}

func TestHealthRunStops(t *testing.T) {
	e := []*testEdge{startEdge(t), startEdge(t)}
	e[1].mode.Store(edgeHung)
	ignore := goleak.IgnoreCurrent()
	// A long Interval keeps idle connections open (they would time out
	// after 2 Intervals), so only Run can close them.
	cfg := geodns.HealthConfig{Interval: time.Minute, Timeout: 30 * time.Millisecond}
	h := newHealth(t, cfg,
		[]geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "e0", Datacenter: "dc", URL: e[0].url()}, {Name: "e1", Datacenter: "dc", URL: e[1].url()}},
		geodns.HealthOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	checkedAll(t, h)
	if err := h.Run(ctx); err == nil {
		t.Error("a second Run returned nil")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5s after its context ended")
	}
	// The edges' servers still run: their connection goroutines end only
	// if Run closed its idle connections.
	goleak.VerifyNone(t, ignore)
}

func TestHealthStateNoAllocs(t *testing.T) {
	h := newHealth(t, geodns.HealthConfig{},
		[]geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "e", Datacenter: "dc", URL: "http://127.0.0.1:1/healthz"}},
		geodns.HealthOptions{})
	n := testing.AllocsPerRun(100, func() {
		s := h.State()
		if s.EdgeUsable("e") || !s.EdgeUnchecked("e") || !s.DatacenterUnchecked("dc") || s.EdgeUsable("nope") || s.Version() != 1 {
			t.Fatal("wrong initial state")
		}
	})
	if n != 0 {
		t.Errorf("State and its lookups allocate %v times", n)
	}
}

func TestHealthStatusJSON(t *testing.T) {
	t.Parallel()
	e := startEdge(t)
	h := newHealth(t, fastHealth,
		[]geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "e", Datacenter: "dc", URL: e.url()}},
		geodns.HealthOptions{})
	before, err := json.Marshal(h.Status())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(before), "last_check") {
		t.Errorf("last_check before any check: %s", before)
	}
	run(t, h)
	checkedAll(t, h)
	b, err := json.Marshal(h.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Datacenters []map[string]json.RawMessage `json:"datacenters"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Datacenters) != 1 {
		t.Fatalf("%s", b)
	}
	for _, k := range []string{"name", "up", "unchecked", "drained", "min_up", "edges_usable", "edges"} {
		if _, ok := got.Datacenters[0][k]; !ok {
			t.Errorf("data center without %q: %s", k, b)
		}
	}
	var edges []map[string]json.RawMessage
	if err := json.Unmarshal(got.Datacenters[0]["edges"], &edges); err != nil || len(edges) != 1 {
		t.Fatalf("edges: %v: %s", err, b)
	}
	for _, k := range []string{"name", "url", "checked", "healthy", "drained", "usable", "consecutive_passes", "consecutive_fails", "last_check", "since", "flaps"} {
		if _, ok := edges[0][k]; !ok {
			t.Errorf("edge without %q: %s", k, b)
		}
	}
	for _, k := range []string{"last_check", "since"} {
		var s string
		if err := json.Unmarshal(edges[0][k], &s); err != nil {
			t.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func TestNewHealthErrors(t *testing.T) {
	t.Parallel()
	dc := []geodns.CheckedDatacenter{{Name: "dc"}}
	edge := func(name, dc, url string) geodns.CheckedEdge {
		return geodns.CheckedEdge{Name: name, Datacenter: dc, URL: url}
	}
	ok := edge("e", "dc", "http://127.0.0.1:9100/healthz")
	for _, c := range []struct {
		name  string
		cfg   geodns.HealthConfig
		dcs   []geodns.CheckedDatacenter
		edges []geodns.CheckedEdge
	}{
		{"unknown datacenter", geodns.HealthConfig{}, dc, []geodns.CheckedEdge{ok, edge("f", "elsewhere", ok.URL)}},
		{"duplicate edge", geodns.HealthConfig{}, dc, []geodns.CheckedEdge{ok, ok}},
		{"duplicate datacenter", geodns.HealthConfig{}, append(dc, dc...), []geodns.CheckedEdge{ok}},
		{"unnamed edge", geodns.HealthConfig{}, dc, []geodns.CheckedEdge{edge("", "dc", ok.URL)}},
		{"unnamed datacenter", geodns.HealthConfig{}, []geodns.CheckedDatacenter{{}}, nil},
		{"unparsable URL", geodns.HealthConfig{}, dc, []geodns.CheckedEdge{edge("e", "dc", "http://[::1/healthz")}},
		{"relative URL", geodns.HealthConfig{}, dc, []geodns.CheckedEdge{edge("e", "dc", "/healthz")}},
		{"ftp URL", geodns.HealthConfig{}, dc, []geodns.CheckedEdge{edge("e", "dc", "ftp://127.0.0.1/healthz")}},
		{"min_up above edges", geodns.HealthConfig{}, []geodns.CheckedDatacenter{{Name: "dc", MinUp: 2}}, []geodns.CheckedEdge{ok}},
		{"negative min_up", geodns.HealthConfig{}, []geodns.CheckedDatacenter{{Name: "dc", MinUp: -1}}, []geodns.CheckedEdge{ok}},
		{"negative interval", geodns.HealthConfig{Interval: -1}, dc, []geodns.CheckedEdge{ok}},
		{"negative fall", geodns.HealthConfig{Fall: -1}, dc, []geodns.CheckedEdge{ok}},
	} {
		if _, err := geodns.NewHealth(c.cfg, c.dcs, c.edges, geodns.HealthOptions{}); err == nil {
			t.Errorf("%s: NewHealth returned no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "geodns: ") {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
	}
	// A rejected configuration registers no metrics, so that a fixed one
	// can use the same registry. A data center without edges (shields
	// only) is valid, and down.
	reg := prometheus.NewRegistry()
	if _, err := geodns.NewHealth(geodns.HealthConfig{}, dc, []geodns.CheckedEdge{ok, ok}, geodns.HealthOptions{Registerer: reg}); err == nil {
		t.Fatal("duplicate edges accepted")
	}
	h, err := geodns.NewHealth(geodns.HealthConfig{}, append(dc, geodns.CheckedDatacenter{Name: "shields"}), []geodns.CheckedEdge{ok}, geodns.HealthOptions{Registerer: reg})
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if s := h.State(); !s.DatacenterUnchecked("dc") || s.DatacenterUp("shields") || s.DatacenterUnchecked("shields") || !s.EdgeUnchecked("e") {
		t.Error("want dc and e unchecked, shields down")
	}
}
