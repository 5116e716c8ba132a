package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tern-cdn/tern/internal/testkit"
)

// shieldTier is three shields in front of one origin, and a Router over
// them with the origin as the request's own URL.
type shieldTier struct {
	origin  *backend
	shields []*backend
	pool    *Pool
	router  *Router
	reg     *prometheus.Registry
	clock   *testkit.Clock
}

func newShieldTier(t *testing.T, hc HealthConfig) *shieldTier {
	t.Helper()
	st := &shieldTier{origin: newBackend(t, "origin"), reg: prometheus.NewRegistry(), clock: testkit.NewClock()}
	for i := range 3 {
		s := newBackend(t, fmt.Sprintf("shield-%d", i))
		s.proxy(t, st.origin.URL)
		st.shields = append(st.shields, s)
	}
	tr := testTransport(t, TransportConfig{})
	st.pool = newTestPool(t, "shields", hc, tr, st.reg, st.shields...)
	st.pool.now = st.clock.Now
	st.router = NewRouter(st.pool, nil, tr, "", st.reg, nil)
	return st
}

// rank returns the shields in the order the Router tries them for req.
func (st *shieldTier) rank(t *testing.T, req *http.Request) []*backend {
	t.Helper()
	var out []*backend
	for _, u := range Rank(RequestKey(req), st.pool.Upstreams()) {
		out = append(out, byName(t, u, st.shields...))
	}
	return out
}

func (st *shieldTier) req(t *testing.T, method, path string) *http.Request {
	t.Helper()
	return siteRequest(t, method, st.origin.URL, path)
}

func hits(bs ...*backend) []int64 {
	var out []int64
	for _, b := range bs {
		out = append(out, b.hits.Load())
	}
	return out
}

func TestRouterHomeShield(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	used := map[string]bool{}
	for i := range 30 {
		path := fmt.Sprintf("/assets/%d.js", i)
		home := st.rank(t, st.req(t, http.MethodGet, path))[0]
		before := home.hits.Load()
		for range 5 {
			req := st.req(t, http.MethodGet, path)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", i*100, i*100+99)) // slices go to the same shield
			code, by, body := get(t, st.router, req)
			if code != http.StatusOK || by != home.name || body != "origin "+path {
				t.Fatalf("%s: %d from %q (%q), want 200 from home shield %s", path, code, by, body, home.name)
			}
		}
		if got := home.hits.Load() - before; got != 5 {
			t.Fatalf("%s: home shield %s got %d requests, want 5", path, home.name, got)
		}
		used[home.name] = true
		// What the shield saw: the site's Host and the path.
		last, _ := home.lastRequest()
		if last.Host != "www.cdn.test" || last.URL.Path != path {
			t.Fatalf("shield got Host %q path %q", last.Host, last.URL.Path)
		}
	}
	if len(used) != 3 {
		t.Errorf("30 keys used shields %v, want all 3", used)
	}
	if got := st.origin.hits.Load(); got != 150 {
		t.Errorf("origin got %d requests, want 150 (each through one shield)", got)
	}
	if got := testkit.Sum(t, st.reg, "tern_upstream_failovers_total", "pool", "shields"); got > 0 {
		t.Errorf("failovers_total = %v, want none", got)
	}
}

func TestRouterShieldDownFailsOver(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodGet, "/app.js")
	order := st.rank(t, req)
	if _, by, _ := get(t, st.router, req); by != order[0].name {
		t.Fatalf("served by %q, want home %s", by, order[0].name)
	}
	order[0].kill()

	for range 5 {
		code, by, _ := get(t, st.router, st.req(t, http.MethodGet, "/app.js"))
		if code != http.StatusOK || by != order[1].name {
			t.Fatalf("with the home shield down: %d from %q, want 200 from %s", code, by, order[1].name)
		}
	}
	if got := order[2].hits.Load(); got != 0 {
		t.Errorf("third choice got %d requests, want 0", got)
	}
	home := []string{"pool", "shields", "upstream", order[0].name}
	// Three refused connections hold it down (MaxFails 3); then it is skipped.
	if got := testkit.Value(t, st.reg, "tern_upstream_requests_total", with(home, "result", "failover")...); got != 3 {
		t.Errorf("requests_total{%s,failover} = %v, want 3", order[0].name, got)
	}
	if got := testkit.Value(t, st.reg, "tern_upstream_failovers_total", "pool", "shields"); got != 3 {
		t.Errorf("failovers_total = %v, want 3", got)
	}
	if got := testkit.Value(t, st.reg, "tern_upstream_healthy", home...); got != 0 {
		t.Errorf("healthy{%s} = %v, want 0", order[0].name, got)
	}
	second := []string{"pool", "shields", "upstream", order[1].name}
	if got := testkit.Value(t, st.reg, "tern_upstream_requests_total", with(second, "result", "ok")...); got != 5 {
		t.Errorf("requests_total{%s,ok} = %v, want 5", order[1].name, got)
	}
}

// with is the label pairs m plus k=v.
func with(m []string, k, v string) []string {
	return append(slices.Clip(m), k, v)
}

func TestRouterAllShieldsDownGoesToOrigin(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	for _, s := range st.shields {
		s.kill()
	}
	code, by, _ := get(t, st.router, st.req(t, http.MethodGet, "/app.js"))
	if code != http.StatusOK || by != "origin" {
		t.Fatalf("%d from %q, want 200 from the origin", code, by)
	}
	last, _ := st.origin.lastRequest()
	if last.Host != "www.cdn.test" {
		t.Errorf("origin got Host %q, want the site's", last.Host)
	}
}

func TestRouterOriginPool(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr := testTransport(t, TransportConfig{})
	o1, o2 := newBackend(t, "o1"), newBackend(t, "o2")
	origins := newTestPool(t, "site-www", HealthConfig{}, tr, reg, o1, o2)
	single := newTestPool(t, "site-img", HealthConfig{}, tr, reg, o1)
	shield := newBackend(t, "shield")
	shields := newTestPool(t, "shields", HealthConfig{}, tr, reg, shield)
	shield.kill()
	r := NewRouter(shields, func(req *http.Request) *Pool {
		if req.Host == "img.cdn.test" {
			return single
		}
		return origins
	}, tr, "", reg, nil)

	// The shield is down: the pool's first origin, with the site's Host.
	req := siteRequest(t, http.MethodGet, "http://unused.invalid", "/a.js?v=1")
	if code, by, _ := get(t, r, req); code != http.StatusOK || by != "o1" {
		t.Fatalf("%d from %q, want 200 from o1", code, by)
	}
	last, _ := o1.lastRequest()
	if last.Host != "www.cdn.test" || last.URL.RequestURI() != "/a.js?v=1" {
		t.Fatalf("o1 got Host %q URI %q", last.Host, last.URL.RequestURI())
	}

	// A 503 from o1 in a pool of two: o2 answers.
	o1.fail(http.StatusServiceUnavailable, "")
	if code, by, _ := get(t, r, siteRequest(t, http.MethodGet, "http://unused.invalid", "/a.js")); code != http.StatusOK || by != "o2" {
		t.Fatalf("%d from %q, want 200 from o2", code, by)
	}
	// A 500 is the origin's answer, even in a pool of two.
	o1.fail(http.StatusInternalServerError, "")
	o1.hits.Store(0)
	if code, by, _ := get(t, r, siteRequest(t, http.MethodGet, "http://unused.invalid", "/a.js")); code != http.StatusInternalServerError || by != "o1" {
		t.Fatalf("%d from %q, want o1's 500", code, by)
	}
	// A pool of one: its 503 is the answer.
	o1.fail(http.StatusServiceUnavailable, "")
	req = siteRequest(t, http.MethodGet, "http://unused.invalid", "/logo.png")
	req.Host = "img.cdn.test"
	if code, by, _ := get(t, r, req); code != http.StatusServiceUnavailable || by != "o1" {
		t.Fatalf("%d from %q, want o1's 503", code, by)
	}
	if got := testkit.Value(t, reg, "tern_upstream_requests_total", "pool", "site-img", "upstream", "o1", "result", "ok"); got != 1 {
		t.Errorf("requests_total{site-img,o1,ok} = %v, want 1: the only origin's 503 is its answer", got)
	}
	if s := single.Upstreams()[0].Status(); s.ConsecutiveFails != 0 {
		t.Errorf("the only origin counted %d failures for its own answer", s.ConsecutiveFails)
	}
	if got := testkit.Value(t, reg, "tern_upstream_failovers_total", "pool", "site-www"); got != 1 {
		t.Errorf("failovers_total{site-www} = %v, want 1", got)
	}

	// Status lists the shields and the origin pools routed to.
	var pools []string
	for _, s := range r.Status() {
		pools = append(pools, s.Pool+"/"+s.Name)
	}
	if got, want := strings.Join(pools, " "), "shields/shield site-img/o1 site-www/o1 site-www/o2"; got != want {
		t.Errorf("Status = %s, want %s", got, want)
	}
}

// A 5xx without Tern-Error from a shield is the origin's answer: it is
// returned as it is and the origin is asked once.
func TestRouterOrigin5xxPassesThrough(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	st.origin.fail(http.StatusServiceUnavailable, "")
	req := st.req(t, http.MethodGet, "/app.js")
	home := st.rank(t, req)[0]
	code, by, body := get(t, st.router, req)
	if code != http.StatusServiceUnavailable || by != home.name || body != "origin /app.js" {
		t.Fatalf("%d from %q (%q), want the origin's 503 through %s", code, by, body, home.name)
	}
	if got := st.origin.hits.Load(); got != 1 {
		t.Errorf("origin asked %d times, want once", got)
	}
	if got := hits(st.shields...); got[0]+got[1]+got[2] != 1 {
		t.Errorf("shield hits %v, want one in all", got)
	}
	u := st.pool.Upstreams()[0]
	for _, u2 := range st.pool.Upstreams() {
		if u2.Name == home.name {
			u = u2
		}
	}
	if s := u.Status(); s.ConsecutiveFails != 0 {
		t.Errorf("home shield has %d fails, want 0: it answered", s.ConsecutiveFails)
	}
}

// Tern-Error: origin-unreachable means the shield could not reach the origin:
// the edge asks the other shields from their caches only (Cache-Control:
// only-if-cached), then tries the origin itself.
func TestRouterShieldUpstreamErrorGoesToOrigin(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	dead := newBackend(t, "dead")
	dead.kill()
	for _, s := range st.shields {
		s.proxy(t, dead.URL) // the shields cannot reach the origin; the edge can
	}
	req := st.req(t, http.MethodGet, "/app.js")
	home := st.rank(t, req)[0]
	code, by, _ := get(t, st.router, req)
	if code != http.StatusOK || by != "origin" {
		t.Fatalf("%d from %q, want 200 from the origin", code, by)
	}
	if got := hits(st.shields...); got[0] != 1 || got[1] != 1 || got[2] != 1 {
		t.Errorf("shield hits %v, want each shield once", got)
	}
	for _, s := range st.rank(t, req)[1:] {
		if r, _ := s.lastRequest(); r.Header.Get("Cache-Control") != "only-if-cached" {
			t.Errorf("%s got Cache-Control %q, want only-if-cached", s.name, r.Header.Get("Cache-Control"))
		}
	}
	if r, _ := home.lastRequest(); r.Header.Get("Cache-Control") != "" {
		t.Errorf("the home shield got Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	if got := st.origin.hits.Load(); got != 1 {
		t.Errorf("origin hits %d, want 1", got)
	}
	hl := []string{"pool", "shields", "upstream", home.name}
	if got := testkit.Value(t, st.reg, "tern_upstream_requests_total", with(hl, "result", "failover")...); got != 1 {
		t.Errorf("requests_total{home,failover} = %v, want 1", got)
	}
	if got := testkit.Value(t, st.reg, "tern_upstream_requests_total", "pool", "direct", "upstream", "direct", "result", "ok"); got != 1 {
		t.Errorf("requests_total{direct,ok} = %v, want 1", got)
	}
}

// When the home shield cannot reach the origin, another shield that holds
// the object (keys move to it while their home shield is down) answers it
// from its cache, and the origin is not asked.
func TestRouterShieldUpstreamErrorOtherShieldHasIt(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodGet, "/app.js")
	order := st.rank(t, req)
	order[0].fail(http.StatusBadGateway, ReasonUpstreamError)
	order[1].fail(http.StatusGatewayTimeout, ReasonOnlyIfCached)
	order[2].proxyTo = nil // answers 200 itself: it has the object
	code, by, _ := get(t, st.router, req)
	if code != http.StatusOK || by != order[2].name {
		t.Fatalf("%d from %q, want 200 from %s", code, by, order[2].name)
	}
	if got := st.origin.hits.Load(); got != 0 {
		t.Errorf("origin hits %d, want 0", got)
	}
	for _, u := range st.pool.Upstreams() {
		if got := u.Status(); got.ConsecutiveFails != 0 {
			t.Errorf("%s has %d fails, want 0: it answered", u.Name, got.ConsecutiveFails)
		}
	}
}

// Any other Tern-Error is the shield's own failure: the next shield.
func TestRouterShieldErrorFailsOver(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodGet, "/app.js")
	order := st.rank(t, req)
	order[0].fail(http.StatusInternalServerError, "some-new-reason")
	code, by, _ := get(t, st.router, req)
	if code != http.StatusOK || by != order[1].name {
		t.Fatalf("%d from %q, want 200 from %s", code, by, order[1].name)
	}
	// When every shield fails so, the origin answers.
	order[1].fail(http.StatusBadGateway, ReasonStoreError)
	order[2].fail(http.StatusInternalServerError, "panic")
	code, by, _ = get(t, st.router, st.req(t, http.MethodGet, "/app.js"))
	if code != http.StatusOK || by != "origin" {
		t.Fatalf("%d from %q, want 200 from the origin", code, by)
	}
}

// When the last candidate fails with a response, that response is the
// answer, not an error.
func TestRouterLastFailureReturned(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr := testTransport(t, TransportConfig{})
	o1, o2 := newBackend(t, "o1"), newBackend(t, "o2")
	o1.fail(http.StatusBadGateway, "")
	o2.fail(http.StatusGatewayTimeout, "")
	origins := newTestPool(t, "site", HealthConfig{}, tr, reg, o1, o2)
	r := NewRouter(nil, func(*http.Request) *Pool { return origins }, tr, "", reg, nil)
	code, by, _ := get(t, r, siteRequest(t, http.MethodGet, "http://unused.invalid", "/a"))
	if code != http.StatusGatewayTimeout || by != "o2" {
		t.Fatalf("%d from %q, want o2's 504", code, by)
	}
	if got := testkit.Value(t, reg, "tern_upstream_requests_total", "pool", "site", "upstream", "o2", "result", "error"); got != 1 {
		t.Errorf("requests_total{o2,error} = %v, want 1", got)
	}
}

func TestRouterPostNotRetried(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodPost, "/api")
	order := st.rank(t, req)

	// The home shield takes the request and drops the connection: it may
	// have acted on it, so the POST is not sent again.
	order[0].reset.Store(true)
	req, err := http.NewRequest(http.MethodPost, st.origin.URL+"/api", strings.NewReader("payload")) // with GetBody
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "www.cdn.test"
	resp, err := st.router.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST through a dropped connection answered %s, want the error", resp.Status)
	}
	if got := hits(order[1], order[2], st.origin); got[0]+got[1]+got[2] != 0 {
		t.Errorf("POST was retried: hits %v", got)
	}

	// A shield answering with its own error: returned, not retried.
	order[0].reset.Store(false)
	order[0].fail(http.StatusBadGateway, ReasonStoreError)
	resp, err = st.router.RoundTrip(st.req(t, http.MethodPost, "/api"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(ErrorHeader) != ReasonStoreError {
		t.Errorf("POST got %s %q, want the shield's 502 store-error", resp.Status, resp.Header.Get(ErrorHeader))
	}
	if got := hits(order[1], order[2], st.origin); got[0]+got[1]+got[2] != 0 {
		t.Errorf("POST was retried: hits %v", got)
	}
}

// A connection that could not be made sent nothing: even a POST moves on,
// its body re-created with GetBody.
func TestRouterPostRefusedMovesOn(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodPost, "/api")
	order := st.rank(t, req)
	order[0].kill()
	req, err := http.NewRequest(http.MethodPost, st.origin.URL+"/api", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "www.cdn.test"
	code, by, _ := get(t, st.router, req)
	if code != http.StatusOK || by != order[1].name {
		t.Fatalf("%d from %q, want 200 from %s", code, by, order[1].name)
	}
	if _, body := st.origin.lastRequest(); body != "payload" {
		t.Errorf("origin got body %q, want the whole payload", body)
	}

	// Without GetBody the body cannot be sent again: the error is returned.
	req = st.req(t, http.MethodPost, "/api")
	req.Body = io.NopCloser(strings.NewReader("payload"))
	req.ContentLength = 7
	before := order[1].hits.Load()
	if resp, err := st.router.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %s, want the refused connection's error", resp.Status)
	}
	if order[1].hits.Load() != before {
		t.Errorf("a body that cannot be re-created was sent again")
	}
}

func TestRouterPassiveHealth(t *testing.T) {
	st := newShieldTier(t, HealthConfig{MaxFails: 3, FailBackoff: 10 * time.Second, MaxBackoff: 15 * time.Second})
	req := st.req(t, http.MethodGet, "/app.js")
	order := st.rank(t, req)
	home, next := order[0], order[1]
	var u *Upstream
	for _, x := range st.pool.Upstreams() {
		if x.Name == home.name {
			u = x
		}
	}
	send := func(wantBy string) {
		t.Helper()
		code, by, _ := get(t, st.router, st.req(t, http.MethodGet, "/app.js"))
		if code != http.StatusOK || by != wantBy {
			t.Fatalf("%d from %q, want 200 from %s", code, by, wantBy)
		}
	}

	// Three failures hold the home shield down for FailBackoff.
	home.fail(http.StatusInternalServerError, ReasonStoreError)
	for range 3 {
		send(next.name)
	}
	if got := home.hits.Load(); got != 3 {
		t.Fatalf("home shield got %d requests, want 3", got)
	}
	if u.Available() || !u.Healthy() {
		t.Fatalf("after 3 failures: available %v healthy %v, want held down but healthy", u.Available(), u.Healthy())
	}
	if s := u.Status(); s.ConsecutiveFails != 3 || !s.DownUntil.Equal(st.clock.Now().Add(10*time.Second)) {
		t.Fatalf("status %+v, want 3 fails, down for 10s", s)
	}
	// No requests during the hold-down.
	for range 5 {
		send(next.name)
	}
	st.clock.Advance(9 * time.Second)
	send(next.name)
	if got := home.hits.Load(); got != 3 {
		t.Fatalf("held-down shield got %d requests, want still 3", got)
	}

	// Half-open: one probe; it fails and the hold-down doubles (capped at 15s).
	st.clock.Advance(time.Second)
	if !u.Available() {
		t.Fatal("not available after the hold-down")
	}
	send(next.name)
	if got := home.hits.Load(); got != 4 {
		t.Fatalf("half-open shield got %d requests, want one probe (4)", got)
	}
	if s := u.Status(); u.Available() || !s.DownUntil.Equal(st.clock.Now().Add(15*time.Second)) {
		t.Fatalf("after a failed probe: available %v, status %+v, want down for 15s", u.Available(), s)
	}
	st.clock.Advance(14 * time.Second)
	send(next.name)
	if got := home.hits.Load(); got != 4 {
		t.Fatalf("held-down shield got %d requests, want still 4", got)
	}

	// The next probe succeeds: the home shield has its keys back.
	home.fail(0, "")
	st.clock.Advance(time.Second)
	send(home.name)
	send(home.name)
	if got := home.hits.Load(); got != 6 {
		t.Fatalf("recovered shield got %d requests, want 6", got)
	}
	if s := u.Status(); s.ConsecutiveFails != 0 || !s.DownUntil.IsZero() || !s.Available {
		t.Fatalf("after a good probe: %+v", s)
	}
}

func TestUpstreamOneProbeAtATime(t *testing.T) {
	clock := testkit.NewClock()
	p, err := NewPool("p", []UpstreamConfig{{Name: "a", URL: "http://127.0.0.1:1"}}, HealthConfig{MaxFails: 2, FailBackoff: time.Second, MaxBackoff: 4 * time.Second}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.now = clock.Now
	u := p.Upstreams()[0]
	u.failed(false)
	if !u.Available() {
		t.Fatal("down after 1 of 2 failures")
	}
	u.failed(false)
	if u.Available() {
		t.Fatal("available after 2 of 2 failures")
	}
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second} {
		clock.Advance(4 * time.Second)
		probe, ok := u.acquire()
		if !probe || !ok {
			t.Fatalf("acquire after the hold-down = %v, %v, want a probe", probe, ok)
		}
		if _, ok := u.acquire(); ok || u.Available() {
			t.Fatal("a second request got in while the probe is in flight")
		}
		u.failed(true)
		if s := u.Status(); !s.DownUntil.Equal(clock.Now().Add(want)) {
			t.Fatalf("after a failed probe down until %v, want now+%v", s.DownUntil, want)
		}
	}
	// An abandoned probe frees the slot without a verdict.
	clock.Advance(4 * time.Second)
	probe, _ := u.acquire()
	u.release(probe)
	if probe, ok := u.acquire(); !probe || !ok {
		t.Fatalf("acquire after a released probe = %v, %v", probe, ok)
	}
	u.succeeded(true)
	if s := u.Status(); !s.Available || s.ConsecutiveFails != 0 {
		t.Fatalf("after a good probe: %+v", s)
	}
}

func TestRouterActiveHealth(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodGet, "/app.js")
	order := st.rank(t, req)
	home, next := order[0], order[1]

	check := newBackend(t, "check")
	tr := testTransport(t, TransportConfig{})
	reg := prometheus.NewRegistry()
	var ups []UpstreamConfig
	for _, s := range st.shields {
		cu := ""
		if s == home {
			cu = check.URL // no path: CheckPath
		}
		ups = append(ups, UpstreamConfig{Name: s.name, URL: s.URL, CheckURL: cu})
	}
	pool, err := NewPool("shields", ups, HealthConfig{Interval: 20 * time.Millisecond, Rise: 2, Fall: 3}, tr, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	router := NewRouter(pool, nil, tr, "", reg, nil)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer close(done)
		pool.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done; pool.Close() })
	u := pool.Upstreams()[0]
	for _, x := range pool.Upstreams() {
		if x.Name == home.name {
			u = x
		}
	}
	checks := func(result string) float64 {
		return testkit.Sum(t, reg, "tern_upstream_checks_total", "pool", "shields", "upstream", home.name, "result", result)
	}
	testkit.Eventually(t, 5*time.Second, "a passed check", func() bool { return checks("pass") >= 1 })
	if last, _ := check.lastRequest(); last.URL.Path != "/healthz" {
		t.Errorf("check requested %q, want /healthz", last.URL.Path)
	}

	check.fail(http.StatusInternalServerError, "")
	testkit.Eventually(t, 5*time.Second, "unhealthy", func() bool { return !u.Healthy() })
	if got := checks("fail"); got < 3 {
		t.Errorf("unhealthy after %v failed checks, want Fall=3", got)
	}
	if got := testkit.Value(t, reg, "tern_upstream_healthy", "pool", "shields", "upstream", home.name); got != 0 {
		t.Errorf("healthy gauge %v, want 0", got)
	}
	before := home.hits.Load()
	if _, by, _ := get(t, router, st.req(t, http.MethodGet, "/app.js")); by != next.name {
		t.Fatalf("served by %q while the home shield is unhealthy, want %s", by, next.name)
	}
	if home.hits.Load() != before {
		t.Error("an unhealthy shield got a request")
	}

	passes := checks("pass")
	check.fail(0, "")
	testkit.Eventually(t, 5*time.Second, "healthy again", func() bool { return u.Healthy() })
	if got := checks("pass") - passes; got < 2 {
		t.Errorf("healthy after %v passed checks, want Rise=2", got)
	}
	if _, by, _ := get(t, router, st.req(t, http.MethodGet, "/app.js")); by != home.name {
		t.Fatalf("served by %q, want the healthy home shield %s", by, home.name)
	}

	// Run returns when its context ends.
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestPoolCloseStopsRun(t *testing.T) {
	check := newBackend(t, "check")
	check.hang.Store(true) // every check waits for its timeout
	pool, err := NewPool("p", []UpstreamConfig{{Name: "a", URL: check.URL, CheckURL: check.URL + "/hz"}},
		HealthConfig{Interval: 10 * time.Millisecond, Timeout: time.Minute, Fall: 1}, testTransport(t, TransportConfig{}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pool.Run(context.Background())
	}()
	testkit.Eventually(t, 5*time.Second, "a check in flight", func() bool { return check.hits.Load() > 0 })
	pool.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if !pool.Upstreams()[0].Healthy() {
		t.Error("a check cut short by Close counted as a failure")
	}
	pool.Run(context.Background()) // a closed pool returns at once
}

func TestRouterNeverSelectsSelf(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	self := st.shields[1]
	// Self given as a URL with a differently written loopback address.
	addr := strings.Replace(self.URL, "127.0.0.1", "[::ffff:127.0.0.1]", 1)
	r := NewRouter(st.pool, nil, testTransport(t, TransportConfig{}), addr, nil, nil)
	for i := range 60 {
		path := fmt.Sprintf("/k/%d", i)
		if _, by, _ := get(t, r, st.req(t, http.MethodGet, path)); by == self.name {
			t.Fatalf("%s served by self", path)
		}
	}
	if got := self.hits.Load(); got != 0 {
		t.Errorf("self got %d requests", got)
	}
	// Even when every other shield is down, and the origin is self too.
	st.shields[0].kill()
	st.shields[2].kill()
	r = NewRouter(st.pool, nil, testTransport(t, TransportConfig{}), self.Listener.Addr().String(), nil, nil)
	if _, by, _ := get(t, r, st.req(t, http.MethodGet, "/x")); by != "origin" {
		t.Fatalf("served by %q, want the origin", by)
	}
	// The origin (the request's own URL) at self's address is a loop.
	r = NewRouter(nil, nil, testTransport(t, TransportConfig{}), st.origin.URL, nil, nil)
	before := st.origin.hits.Load()
	if resp, err := r.RoundTrip(st.req(t, http.MethodGet, "/x")); err == nil {
		resp.Body.Close()
		t.Fatalf("sent to self: %s", resp.Status)
	}
	if st.origin.hits.Load() != before {
		t.Error("self got a request")
	}
}

func TestRouterContextCancel(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	req := st.req(t, http.MethodGet, "/slow")
	order := st.rank(t, req)
	order[0].hang.Store(true)

	ctx := ctxTimeout(t, 100*time.Millisecond)
	start := time.Now()
	resp, err := st.router.RoundTrip(req.WithContext(ctx))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("answered %s, want the deadline's error", resp.Status)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if got := hits(order[1], order[2], st.origin); got[0]+got[1]+got[2] != 0 {
		t.Errorf("attempts went on after the deadline: hits %v", got)
	}
	for _, s := range st.pool.Status() {
		if s.ConsecutiveFails != 0 {
			t.Errorf("%s counted a failure for the client's deadline", s.Name)
		}
	}

	// A request whose context is already done reaches no one.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	before := hits(st.shields...)
	if resp, err := st.router.RoundTrip(st.req(t, http.MethodGet, "/x").WithContext(ctx)); !errors.Is(err, context.Canceled) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if after := hits(st.shields...); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("hits %v → %v", before, after)
	}
}

// A shield that accepts but does not answer within ResponseHeaderTimeout
// counts as failed: the next one answers within the request's deadline.
func TestRouterResponseTimeoutFailsOver(t *testing.T) {
	origin := newBackend(t, "origin")
	a, b := newBackend(t, "a"), newBackend(t, "b")
	tr := testTransport(t, TransportConfig{ResponseHeaderTimeout: 50 * time.Millisecond})
	pool := newTestPool(t, "shields", HealthConfig{}, tr, nil, a, b)
	r := NewRouter(pool, nil, tr, "", nil, nil)
	req := siteRequest(t, http.MethodGet, origin.URL, "/v.mp4")
	first := byName(t, Rank(RequestKey(req), pool.Upstreams())[0], a, b)
	second := a
	if first == a {
		second = b
	}
	first.hang.Store(true)
	if code, by, _ := get(t, r, req.WithContext(ctxTimeout(t, 5*time.Second))); code != http.StatusOK || by != second.name {
		t.Fatalf("%d from %q, want 200 from %s", code, by, second.name)
	}
}

func TestRouterNoPoolsIsTransport(t *testing.T) {
	origin := newBackend(t, "origin")
	r := NewRouter(nil, nil, testTransport(t, TransportConfig{}), "", nil, nil)
	if code, by, _ := get(t, r, siteRequest(t, http.MethodGet, origin.URL, "/a")); code != http.StatusOK || by != "origin" {
		t.Fatalf("%d from %q", code, by)
	}
	empty := newTestPool(t, "none", HealthConfig{}, nil, nil)
	r = NewRouter(empty, func(*http.Request) *Pool { return nil }, testTransport(t, TransportConfig{}), "", nil, nil)
	if code, by, _ := get(t, r, siteRequest(t, http.MethodGet, origin.URL, "/a")); code != http.StatusOK || by != "origin" {
		t.Fatalf("%d from %q", code, by)
	}
}

// With every candidate held down, the first is tried anyway.
func TestRouterNothingAvailableTriesFirst(t *testing.T) {
	st := newShieldTier(t, HealthConfig{MaxFails: 1, FailBackoff: time.Hour})
	o := newBackend(t, "o")
	origins := newTestPool(t, "site", HealthConfig{MaxFails: 1, FailBackoff: time.Hour}, nil, nil, o)
	r := NewRouter(st.pool, func(*http.Request) *Pool { return origins }, testTransport(t, TransportConfig{}), "", nil, nil)
	for _, u := range append(st.pool.Upstreams(), origins.Upstreams()...) {
		u.failed(false)
		if u.Available() {
			t.Fatalf("%s still available", u.Name)
		}
	}
	req := st.req(t, http.MethodGet, "/app.js")
	home := st.rank(t, req)[0]
	if code, by, _ := get(t, r, req); code != http.StatusOK || by != home.name {
		t.Fatalf("%d from %q, want 200 from the home shield %s", code, by, home.name)
	}
	if got := hits(st.shields...); got[0]+got[1]+got[2] != 1 || o.hits.Load() != 0 {
		t.Errorf("hits %v and origin %d, want the home shield only", got, o.hits.Load())
	}
	// Its success ends its hold-down.
	for _, u := range st.pool.Upstreams() {
		if u.Name == home.name && !u.Available() {
			t.Error("the home shield answered but is still held down")
		}
	}
}

func TestRouterStatusJSON(t *testing.T) {
	st := newShieldTier(t, HealthConfig{})
	st.pool.Upstreams()[0].failed(false)
	b, err := json.Marshal(st.router.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%s: want 3 upstreams", b)
	}
	first := got[0]
	for _, k := range []string{"pool", "name", "url", "healthy", "available", "consecutive_fails"} {
		if _, ok := first[k]; !ok {
			t.Errorf("%s: no %q", b, k)
		}
	}
	if _, ok := first["down_until"]; ok {
		t.Errorf("%s: down_until of an upstream that is not held down", b)
	}
	if first["name"] != "shield-0" || first["consecutive_fails"] != 1.0 || first["url"] != st.shields[0].URL {
		t.Errorf("%s", b)
	}
}

func TestNewPoolErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ups  []UpstreamConfig
		want string
	}{
		{"", nil, "needs a name"},
		{"p", []UpstreamConfig{{URL: "ftp://a"}}, "scheme"},
		{"p", []UpstreamConfig{{URL: "http://"}}, "no host"},
		{"p", []UpstreamConfig{{URL: "http://a/base/"}}, "only scheme://host"},
		{"p", []UpstreamConfig{{URL: "http://a:1"}, {URL: "http://a:1"}}, "two upstreams"},
		{"p", []UpstreamConfig{{URL: "http://a:1", CheckURL: "a:1/healthz"}}, "bad check URL"},
	} {
		if _, err := NewPool(tc.name, tc.ups, HealthConfig{}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPool(%q, %v) error %v, want %q", tc.name, tc.ups, err, tc.want)
		}
	}
}

// Several pools and routers share one registry, and a pool reopened under
// the same name (a reload) registers again.
func TestMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	ups := []UpstreamConfig{{Name: "a", URL: "http://127.0.0.1:1"}}
	p1 := newTestPoolCfg(t, "one", ups, reg)
	newTestPoolCfg(t, "two", ups, reg)
	NewRouter(p1, nil, nil, "", reg, nil)
	NewRouter(p1, nil, nil, "", reg, nil)
	p3 := newTestPoolCfg(t, "one", ups, reg) // reload overlap
	p1.Close()
	p3.Upstreams()[0].failed(false)
	for pool, want := range map[string]float64{"one": 1, "two": 1} {
		if got := testkit.Value(t, reg, "tern_upstream_healthy", "pool", pool, "upstream", "a"); got != want {
			t.Errorf("healthy{%s} = %v, want %v", pool, got, want)
		}
	}
}

func newTestPoolCfg(t *testing.T, name string, ups []UpstreamConfig, reg prometheus.Registerer) *Pool {
	t.Helper()
	p, err := NewPool(name, ups, HealthConfig{}, nil, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
