package origin

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEveryReasonClassified: every ErrorHeader reason declared in tier.go
// is listed by Reasons, and the Router classifies each one explicitly.
// The edge sends only these constants (edge's TestFailReasonsAreTheContract).
func TestEveryReasonClassified(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "tier.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				declared = append(declared, v)
			}
		}
		return true
	})
	listed := Reasons()
	if len(declared) != len(listed) {
		t.Errorf("tier.go declares %d reasons %v, Reasons lists %d %v", len(declared), declared, len(listed), listed)
	}
	for _, r := range declared {
		if !slices.Contains(listed, r) {
			t.Errorf("reason %q is not in Reasons()", r)
		}
	}
	for _, r := range listed {
		if _, known := ClassifyReason(r); !known {
			t.Errorf("reason %q is not classified", r)
		}
	}
	if kind, known := ClassifyReason("made-up"); known || kind != ShieldFailed {
		t.Errorf("an unknown reason: %v %v, want an unknown shield failure", kind, known)
	}
}

// A shield's loop answer is an answer, never a failure of the shield: a
// client can put any Via in its request.
func TestRouterShieldLoopIsAnAnswer(t *testing.T) {
	st := newShieldTier(t, HealthConfig{MaxFails: 1})
	req := st.req(t, http.MethodGet, "/app.js")
	order := st.rank(t, req)
	order[0].fail(http.StatusLoopDetected, ReasonLoop)
	for range 5 {
		if code, by, _ := get(t, st.router, st.req(t, http.MethodGet, "/app.js")); code != http.StatusLoopDetected || by != order[0].name {
			t.Fatalf("%d from %q, want the home shield's 508", code, by)
		}
	}
	if got := hits(order[1], order[2], st.origin); got[0]+got[1]+got[2] != 0 {
		t.Errorf("a loop answer was retried elsewhere: hits %v", got)
	}
	for _, u := range st.pool.Upstreams() {
		if s := u.Status(); s.ConsecutiveFails != 0 || !s.Available {
			t.Errorf("%s: %d fails, available %v", u.Name, s.ConsecutiveFails, s.Available)
		}
	}
}

// A shield whose origin timed out or failed after getting the request:
// the other shields are asked from their caches only and the origin is
// not asked again; no shield is counted as failed.
func TestRouterShieldOriginFailedNotRepeated(t *testing.T) {
	for _, reason := range []string{ReasonUpstreamTimeout, ReasonUpstreamError} {
		t.Run(reason, func(t *testing.T) {
			st := newShieldTier(t, HealthConfig{MaxFails: 1})
			req := st.req(t, http.MethodGet, "/app.js")
			order := st.rank(t, req)
			order[0].fail(http.StatusGatewayTimeout, reason)
			order[1].fail(http.StatusGatewayTimeout, ReasonOnlyIfCached)
			order[2].fail(http.StatusGatewayTimeout, ReasonOnlyIfCached)
			resp, err := st.router.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("X-Served-By") != order[0].name || resp.Header.Get(ErrorHeader) != reason {
				t.Fatalf("%s from %q (%q), want the home shield's 504 %s", resp.Status, resp.Header.Get("X-Served-By"), resp.Header.Get(ErrorHeader), reason)
			}
			if got := st.origin.hits.Load(); got != 0 {
				t.Errorf("origin asked %d times after the shield's %s, want 0", got, reason)
			}
			for _, s := range order[1:] {
				if r, _ := s.lastRequest(); r == nil || r.Header.Get("Cache-Control") != "only-if-cached" {
					t.Errorf("%s was not asked from its cache only", s.name)
				}
			}
			for _, u := range st.pool.Upstreams() {
				if s := u.Status(); s.ConsecutiveFails != 0 {
					t.Errorf("%s has %d fails, want 0", u.Name, s.ConsecutiveFails)
				}
			}
		})
	}
}

// An origin cannot forge a shield's error: its ErrorHeader is deleted and
// its 5xx is its own answer, whether it is the edge's origin or a shield's.
func TestRouterOriginErrorHeaderDeleted(t *testing.T) {
	o := newBackend(t, "o")
	o.fail(http.StatusServiceUnavailable, ReasonStoreError)
	tr := testTransport(t, TransportConfig{})
	pool := newTestPool(t, "site", HealthConfig{MaxFails: 1}, tr, nil, o)
	for name, r := range map[string]*Router{
		"pool":   NewRouter(nil, func(*http.Request) *Pool { return pool }, tr, "", nil, nil),
		"direct": NewRouter(nil, nil, tr, "", nil, nil),
	} {
		resp, err := r.RoundTrip(siteRequest(t, http.MethodGet, o.URL, "/a"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(ErrorHeader) != "" {
			t.Errorf("%s: %s with %s %q, want the 503 without it", name, resp.Status, ErrorHeader, resp.Header.Get(ErrorHeader))
		}
	}
}

func TestFleetAuthentication(t *testing.T) {
	a, b, none := NewFleet([]byte("secret-a")), NewFleet([]byte("secret-b")), NewFleet(nil)
	var seen http.Header
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = req.Header
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	req, _ := http.NewRequest(http.MethodGet, "http://shield.invalid/x", nil)
	if _, err := a.Sign(rt).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get(FleetHeader) != "" {
		t.Errorf("Sign changed the caller's request")
	}
	if !a.Authenticated(seen) {
		t.Errorf("the fleet's own token is not authenticated")
	}
	if b.Authenticated(seen) || none.Authenticated(seen) {
		t.Errorf("another fleet's token is authenticated")
	}
	forged := http.Header{FleetHeader: {""}}
	if a.Authenticated(forged) || none.Authenticated(forged) || none.Authenticated(http.Header{}) {
		t.Errorf("an empty token is authenticated")
	}
	doubled := http.Header{FleetHeader: {seen.Get(FleetHeader), "x"}}
	if a.Authenticated(doubled) {
		t.Errorf("two tokens are authenticated")
	}
	if _, err := none.Sign(rt).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := seen[FleetHeader]; ok {
		t.Errorf("a fleet without a secret sent a token")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHeaderTimeoutCause: the header-timeout signal of the contract. A
// caller that cancels with ErrHeaderTimeout (an edge whose UpstreamTimeout
// passed) has the attempt counted against the shield that did not answer;
// one that cancels for another cause (its client went away) does not; and
// FailureReason names the timeout.
func TestHeaderTimeoutCause(t *testing.T) {
	for _, tc := range []struct {
		cause     error
		wantFails int
	}{{ErrHeaderTimeout, 1}, {context.Canceled, 0}} {
		t.Run(tc.cause.Error(), func(t *testing.T) {
			st := newShieldTier(t, HealthConfig{MaxFails: 3})
			req := st.req(t, http.MethodGet, "/slow")
			order := st.rank(t, req)
			order[0].hang.Store(true)
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			// Cancel once the request waits at the home shield.
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for deadline := time.Now().Add(5 * time.Second); order[0].hits.Load() == 0 && time.Now().Before(deadline); {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
				cancel(tc.cause)
			}()
			resp, err := st.router.RoundTrip(req.WithContext(ctx))
			close(stop)
			<-done
			if err == nil {
				resp.Body.Close()
				t.Fatalf("answered %s, want an error", resp.Status)
			}
			if got := hits(order[1], order[2], st.origin); got[0]+got[1]+got[2] != 0 {
				t.Errorf("attempts went on after the cancel: hits %v", got)
			}
			for _, s := range st.pool.Status() {
				want := 0
				if s.Name == order[0].name {
					want = tc.wantFails
				}
				if s.ConsecutiveFails != want {
					t.Errorf("%s: %d consecutive fails, want %d", s.Name, s.ConsecutiveFails, want)
				}
			}
		})
	}
	if got := FailureReason(fmt.Errorf("edge: %w", ErrHeaderTimeout)); got != ReasonUpstreamTimeout {
		t.Errorf("FailureReason(ErrHeaderTimeout) = %q, want %q", got, ReasonUpstreamTimeout)
	}
}

// TestFailureReasonIsAReason: whatever the error, FailureReason gives a
// reason of the contract.
func TestFailureReasonIsAReason(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for err, want := range map[error]string{
		dial:                            ReasonOriginUnreachable,
		ErrHeaderTimeout:                ReasonUpstreamTimeout,
		context.DeadlineExceeded:        ReasonUpstreamTimeout,
		&net.DNSError{IsTimeout: true}:  ReasonUpstreamTimeout,
		errors.New("connection reset"):  ReasonUpstreamError,
		context.Canceled:                ReasonUpstreamError,
		fmt.Errorf("wrapped: %w", dial): ReasonOriginUnreachable,
	} {
		got := FailureReason(err)
		if got != want || !slices.Contains(Reasons(), got) {
			t.Errorf("FailureReason(%v) = %q, want %q", err, got, want)
		}
	}
}
