package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
	"github.com/tern-cdn/tern/origin"
)

// recordingOrigin is a loopback origin that counts requests and keeps the
// header of the last one.
type recordingOrigin struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last http.Header
}

func newRecordingOrigin(t *testing.T, fn http.HandlerFunc) *recordingOrigin {
	t.Helper()
	o := &recordingOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.last = r.Header.Clone()
		o.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *recordingOrigin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// request sends a GET for host and path to addr (a node's plain listener)
// with the header pairs hdr.
func request(t *testing.T, c *http.Client, url, host string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// expectShieldsUp fails the test unless node's /status shows every shield
// available with no failed request counted.
func (f *fleet) expectShieldsUp(t *testing.T, node string) {
	t.Helper()
	_, _, body := request(t, http.DefaultClient, "http://"+f.nodes[node].Admin+"/status", "")
	var st struct{ Upstreams []origin.UpstreamStatus }
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v: %s", err, body)
	}
	n := 0
	for _, u := range st.Upstreams {
		if u.Pool != "shields" {
			continue
		}
		n++
		if !u.Available || u.ConsecutiveFails != 0 {
			t.Errorf("%s at %s: available %v, %d failed requests", u.Name, node, u.Available, u.ConsecutiveFails)
		}
	}
	if n == 0 {
		t.Errorf("%s has no shields in /status: %s", node, body)
	}
}

// TestClientViaCannotTakeShieldsDown (issue 11, item 2a): a client naming
// the shields in Via neither gets a loop answer from them nor makes its
// edge mark them down; every miss still goes through a shield, once.
func TestClientViaCannotTakeShieldsDown(t *testing.T) {
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "v:"+r.URL.RequestURI())
	})
	f := startFleet(t, o.URL, 2, 1)
	edgeURL := "http://" + f.nodes["edge-1"].Listen
	for i := range 30 {
		path := fmt.Sprintf("/spoof?%d", i)
		code, hdr, body := request(t, http.DefaultClient, edgeURL+path, "www.cdn.test", "Via", "1.1 shield-1, 1.1 shield-2")
		if code != 200 || body != "v:"+path || !strings.HasPrefix(hdr.Get("Cache-Status"), "tern-shield-") {
			t.Fatalf("request %d: %d %q, Cache-Status %q: want 200 through a shield", i, code, body, hdr.Get("Cache-Status"))
		}
	}
	if got := o.hits.Load(); got != 30 {
		t.Errorf("origin requests = %d, want 30", got)
	}
	f.expectShieldsUp(t, "edge-1")
	// A request that really comes back to the edge that sent it is still a
	// loop, answered to that request alone.
	if code, _, _ := request(t, http.DefaultClient, edgeURL+"/x", "www.cdn.test", "Via", "1.1 edge-1"); code != http.StatusLoopDetected {
		t.Errorf("a request naming its own edge in Via: %d, want 508", code)
	}
}

// TestOriginErrorHeaderCannotTakeShieldsDown (issue 11, item 2b): one
// tenant's origin answering 503 with a forged Tern-Error gets its 503 to
// its clients, asked once, and the shields stay up for every other site.
func TestOriginErrorHeaderCannotTakeShieldsDown(t *testing.T) {
	bad := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(origin.ErrorHeader, origin.ReasonStoreError)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	good := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "b:"+r.URL.Path)
	})
	f := startFleetWith(t, 2, 1, fleetOpts{sites: []fleetSite{
		{"a", "a.cdn.test", bad.URL}, {"b", "b.cdn.test", good.URL}}})
	edgeURL := "http://" + f.nodes["edge-1"].Listen
	for i := range 10 {
		code, hdr, _ := request(t, http.DefaultClient, fmt.Sprintf("%s/a%d", edgeURL, i), "a.cdn.test")
		if code != http.StatusServiceUnavailable || hdr.Get(origin.ErrorHeader) != "" {
			t.Fatalf("site a: %d, %s %q: want the origin's 503 without it", code, origin.ErrorHeader, hdr.Get(origin.ErrorHeader))
		}
	}
	if got := bad.hits.Load(); got != 10 {
		t.Errorf("site a's origin asked %d times for 10 requests, want 10", got)
	}
	f.expectShieldsUp(t, "edge-1")
	code, hdr, body := request(t, http.DefaultClient, edgeURL+"/b", "b.cdn.test")
	if code != 200 || body != "b:/b" || !strings.HasPrefix(hdr.Get("Cache-Status"), "tern-shield-") {
		t.Errorf("site b: %d %q, Cache-Status %q: want 200 through a shield", code, body, hdr.Get("Cache-Status"))
	}
}

// clientFrom returns an HTTPS client of node's TLS listener that connects
// from the loopback address src, so the origin can tell the client's
// address from the edge's.
func clientFrom(t *testing.T, src string, caRoot string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caRoot)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestForwardingThroughTiers (issue 11, item 4): an HTTPS client's scheme
// and address reach the origin, directly from the edge and through a
// shield, however the edge dials the shield; the fleet's token never
// reaches the origin, and a client that forges it gets no trust.
func TestForwardingThroughTiers(t *testing.T) {
	const client = "127.0.0.9"
	for _, shields := range []int{0, 1} {
		t.Run(fmt.Sprintf("%d shields", shields), func(t *testing.T) {
			o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "no-store")
				io.WriteString(w, "ok")
			})
			f := startFleetWith(t, shields, 1, fleetOpts{tls: true, sites: []fleetSite{{"test", "www.cdn.test", o.URL}}})
			e := f.nodes["edge-1"]
			c := clientFrom(t, client, e.CARoot)
			code, hdr, _ := request(t, c, "https://"+e.TLSListen+"/x", "www.cdn.test",
				"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "http", "Forwarded", "for=6.6.6.6",
				origin.FleetHeader, "forged")
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			if shields > 0 && !strings.HasPrefix(hdr.Get("Cache-Status"), "tern-shield-1") {
				t.Fatalf("not through the shield: Cache-Status %q", hdr.Get("Cache-Status"))
			}
			up := o.lastHeader()
			want := map[string]string{
				"X-Forwarded-For":   client,
				"X-Forwarded-Proto": "https",
				"Forwarded":         `for=` + client + `;host="www.cdn.test";proto=https`,
				origin.FleetHeader:  "",
			}
			for k, v := range want {
				if got := strings.Join(up.Values(k), " | "); got != v {
					t.Errorf("origin got %s %q, want %q", k, got, v)
				}
			}
			if shields == 0 {
				return
			}
			// A client at the shield itself, with a forged token: its own
			// address and scheme, nothing it claims.
			sc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}}).DialContext}}
			defer sc.CloseIdleConnections()
			request(t, sc, "http://"+f.nodes["shield-1"].Listen+"/y", "www.cdn.test",
				"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "Forwarded", "for=6.6.6.6;proto=https",
				origin.FleetHeader, "forged")
			up = o.lastHeader()
			want = map[string]string{
				"X-Forwarded-For":   client,
				"X-Forwarded-Proto": "http",
				"Forwarded":         `for=` + client + `;host="www.cdn.test";proto=http`,
				origin.FleetHeader:  "",
			}
			for k, v := range want {
				if got := strings.Join(up.Values(k), " | "); got != v {
					t.Errorf("forged token at the shield: origin got %s %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestSlowOriginAskedOncePerMiss (issue 11, item 7): when the shield gives
// up on a slow origin, the edge passes its 504 on and does not ask the
// origin itself; clients collapsed on the miss get the 504 too.
func TestSlowOriginAskedOncePerMiss(t *testing.T) {
	release := make(chan struct{})
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	// The shields give up after 2.7s, the edge after 3s: a margin of 300ms
	// for the shields' 504s to reach the edge on a loaded machine (60ms,
	// with 600ms, was not always enough).
	f := startFleetWith(t, 2, 1, fleetOpts{timeout: "3s", sites: []fleetSite{{"test", "www.cdn.test", o.URL}}})
	edgeURL := "http://" + f.nodes["edge-1"].Listen
	const keys, perKey = 10, 3
	var wg sync.WaitGroup
	codes := make(chan int, keys*perKey)
	for k := range keys {
		for range perKey {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(context.Background(), "GET", fmt.Sprintf("%s/slow?%d", edgeURL, k), nil)
				req.Host = "www.cdn.test"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusGatewayTimeout {
			t.Errorf("client got %d, want 504", c)
		}
	}
	if got := o.hits.Load(); got != keys {
		t.Errorf("origin asked %d times for %d misses, want %d", got, keys, keys)
	}
	f.expectShieldsUp(t, "edge-1")
}

// TestFailReasonsAreTheContract: every error the cache writes itself
// (Handler.fail) gives a reason from origin's list, which the Router
// classifies (origin's TestEveryReasonClassified), never a string of its
// own.
func TestFailReasonsAreTheContract(t *testing.T) {
	fset, files := parseEdgeSources(t)
	calls := 0
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "fail" || len(call.Args) != 5 {
				return true
			}
			calls++
			switch arg := call.Args[3].(type) {
			case *ast.SelectorExpr:
				if pkg, ok := arg.X.(*ast.Ident); ok && pkg.Name == "origin" && strings.HasPrefix(arg.Sel.Name, "Reason") {
					return true
				}
			case *ast.CallExpr:
				if fn, ok := arg.Fun.(*ast.Ident); ok && fn.Name == "failureReason" {
					return true
				}
			}
			t.Errorf("%s: fail with reason %s, not an origin.Reason constant", fset.Position(call.Pos()), types.ExprString(call.Args[3]))
			return true
		})
	}
	if calls < 10 {
		t.Errorf("found %d calls of fail, expected more: is the check still looking at the right function?", calls)
	}
	for _, err := range []error{&origin.TierError{Code: 504, Reason: origin.ReasonUpstreamTimeout}, &origin.TierError{Code: 502, Reason: "made-up"}} {
		if _, known := origin.ClassifyReason(edge.FailureReason(err)); !known {
			t.Errorf("failureReason(%v) = %q, not a known reason", err, edge.FailureReason(err))
		}
	}
}

// TestErrorHeaderSetOnlyByFail: fail is the one place the edge writes
// origin.ErrorHeader (TestFailReasonsAreTheContract checks its reasons);
// everywhere else the header is only deleted, and no file spells the
// header's name itself.
func TestErrorHeaderSetOnlyByFail(t *testing.T) {
	fset, files := parseEdgeSources(t)
	writes := 0
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Name.Name == "fail" {
					writes += countErrorHeaderUses(n)
					return false
				}
			case *ast.CallExpr:
				if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "delete" {
					return false
				}
			case *ast.SelectorExpr:
				if isErrorHeader(n) {
					t.Errorf("%s: origin.ErrorHeader used outside fail, other than deleted", fset.Position(n.Pos()))
				}
			case *ast.BasicLit:
				for _, name := range []string{origin.ErrorHeader, origin.FleetHeader} {
					if n.Kind == token.STRING && strings.EqualFold(strings.Trim(n.Value, "\"`"), name) {
						t.Errorf("%s: the header name %s spelt out, not origin's constant", fset.Position(n.Pos()), n.Value)
					}
				}
			}
			return true
		})
	}
	if writes != 1 {
		t.Errorf("fail uses origin.ErrorHeader %d times, want 1: is the check still looking at the right function?", writes)
	}
}

// parseEdgeSources parses the edge package's production files.
func parseEdgeSources(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fset, pkgs["edge"].Files
}

func isErrorHeader(sel *ast.SelectorExpr) bool {
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "origin" && sel.Sel.Name == "ErrorHeader"
}

func countErrorHeaderUses(n ast.Node) int {
	uses := 0
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && isErrorHeader(sel) {
			uses++
		}
		return true
	})
	return uses
}

// TestFailureReasonsOfUpstreamErrors: the reason the edge gives for an
// upstream failure (failureReason, the other argument TestFailReasonsAreTheContract
// allows) is always one the Router classifies: a shield's own reason is
// passed on when it is one of the contract's, and anything else becomes a
// reason of the contract.
func TestFailureReasonsOfUpstreamErrors(t *testing.T) {
	for _, reason := range origin.Reasons() {
		err := fmt.Errorf("fill: %w", &origin.TierError{Code: http.StatusBadGateway, Reason: reason})
		if got := edge.FailureReason(err); got != reason {
			t.Errorf("a shield's %q passed on as %q", reason, got)
		}
	}
	for _, err := range []error{
		&origin.TierError{Code: http.StatusBadGateway, Reason: "made-up"},
		origin.ErrHeaderTimeout, context.DeadlineExceeded, context.Canceled, io.ErrUnexpectedEOF,
		&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded},
	} {
		if got := edge.FailureReason(err); !slices.Contains(origin.Reasons(), got) {
			t.Errorf("failureReason(%v) = %q, not a reason of the contract", err, got)
		}
	}
	if got := edge.FailureReason(origin.ErrHeaderTimeout); got != origin.ReasonUpstreamTimeout {
		t.Errorf("the header timeout's reason is %q, want %q", got, origin.ReasonUpstreamTimeout)
	}
}

// TestFleetSecretFromTopology: nodes that read the fleet secret the
// topology names trust each other; nodes without one trust nobody, so the
// shield cannot vouch for the client's scheme; a secret that is named but
// missing stops the node.
func TestFleetSecretFromTopology(t *testing.T) {
	t.Setenv("TERN_TEST_FLEET_SECRET", "a secret for this test")
	for env, wantProto := range map[string]string{"TERN_TEST_FLEET_SECRET": "https", "-": "http"} {
		t.Run(env, func(t *testing.T) {
			o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			f := startFleetWith(t, 1, 1, fleetOpts{tls: true, secretEnv: env, sites: []fleetSite{{"test", "www.cdn.test", o.URL}}})
			e := f.nodes["edge-1"]
			if code, hdr, _ := request(t, clientFrom(t, "127.0.0.9", e.CARoot), "https://"+e.TLSListen+"/x", "www.cdn.test"); code != 200 ||
				!strings.HasPrefix(hdr.Get("Cache-Status"), "tern-shield-1") {
				t.Fatalf("%d, Cache-Status %q", code, hdr.Get("Cache-Status"))
			}
			if got := o.lastHeader().Get("X-Forwarded-Proto"); got != wantProto {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, wantProto)
			}
		})
	}
	top := testkit.Topology{
		Sites:       []testkit.Site{{Name: "s", Hosts: []string{"www.cdn.test"}, Origin: "http://127.0.0.1:1"}},
		Datacenters: []testkit.Datacenter{{Name: "dc", Edges: []testkit.Node{{Name: "e"}}}},
		Extra:       "fleet:\n  secret_env: TERN_TEST_FLEET_SECRET_UNSET",
	}.Parse(t)
	ref, _ := top.Lookup("e")
	if n, err := node.New(top, ref, node.Options{DataDir: t.TempDir(), FleetSecret: []byte("ignored")}); err == nil || !strings.Contains(err.Error(), "fleet.secret_env") {
		if n != nil {
			n.Run(canceled())
		}
		t.Errorf("node.New with an unset fleet.secret_env: %v, want an error naming it", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
