package testkit_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/goleak"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClock(t *testing.T) {
	c := testkit.NewClock()
	if !c.Now().Equal(testkit.Start) {
		t.Fatalf("new clock at %v, want %v", c.Now(), testkit.Start)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(testkit.Start); got != 800*time.Second {
		t.Errorf("advanced by %v, want 800s", got)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Errorf("after Set: %v", c.Now())
	}
}

func TestWithin(t *testing.T) {
	n := 0
	if !testkit.Within(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Within stopped after %d calls, want 3", n)
	}
	start := time.Now()
	if testkit.Within(20*time.Millisecond, func() bool { return false }) {
		t.Error("Within reported a condition that never held")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("Within gave up after %v, before its 20ms", d)
	}
	testkit.Eventually(t, time.Second, "a condition that holds", func() bool { return true })
}

func newRegistry(t *testing.T) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_requests_total", Help: "h"}, []string{"cache", "code"})
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "t_up", Help: "h"})
	reg.MustRegister(reqs, up)
	reqs.WithLabelValues("hit", "2xx").Add(3)
	reqs.WithLabelValues("miss", "2xx").Add(2)
	reqs.WithLabelValues("miss", "5xx").Inc()
	up.Set(1)
	return reg
}

func TestMetrics(t *testing.T) {
	for name, g := range map[string]prometheus.Gatherer{
		"registry": newRegistry(t),
		"scrape":   scrapeOf(t, newRegistry(t)),
	} {
		t.Run(name, func(t *testing.T) {
			if got := testkit.Sum(t, g, "t_requests_total", "code", "2xx"); got != 5 {
				t.Errorf("Sum{code=2xx} = %v, want 5", got)
			}
			if got := testkit.Sum(t, g, "t_requests_total", "cache", "stale"); got != 0 {
				t.Errorf("Sum of no series = %v, want 0", got)
			}
			if got := testkit.Count(t, g, "t_requests_total", "cache", "miss"); got != 2 {
				t.Errorf("Count{cache=miss} = %d, want 2", got)
			}
			if got := testkit.Value(t, g, "t_requests_total", "cache", "miss", "code", "5xx"); got != 1 {
				t.Errorf("Value = %v, want 1", got)
			}
			if got := testkit.Value(t, g, "t_up"); got != 1 {
				t.Errorf("Value(t_up) = %v, want 1", got)
			}
			if got := testkit.Series(t, g); got != 4 {
				t.Errorf("Series = %d, want 4", got)
			}
		})
	}
}

func scrapeOf(t *testing.T, reg *prometheus.Registry) prometheus.Gatherer {
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	return testkit.Scrape(t, srv.URL)
}

func TestRun(t *testing.T) {
	ran := make(chan struct{})
	stop := testkit.Run(t, time.Second, func(ctx context.Context) error {
		close(ran)
		<-ctx.Done()
		return nil
	})
	<-ran
	stop()
	stop() // a second stop, and the one at cleanup, do nothing
}

func TestTopology(t *testing.T) {
	tp := testkit.OneEdge("http://127.0.0.1:9")
	tp.Datacenters[0].Edges[0].TLS = true
	tp.Datacenters[0].Shields = []testkit.Node{{Name: "shield-1", Host: "127.0.0.2"}}
	tp.DNS = []testkit.Node{{Name: "dns-1"}}
	tp.DNSExtra = "zones:\n  - name: cdn.test\n    ns:\n      - {name: ns1.cdn.test, addresses: [192.0.2.53]}"
	tp.Sites[0].Extra = "cache:\n  stale_if_error: 1m"
	tp.Extra = "tls:\n  mode: local"
	top := tp.Parse(t)
	ref, ok := top.Lookup("edge-1")
	if !ok || ref.Node.Listen.String() != "127.0.0.1:0" || ref.Node.Admin.String() != "127.0.0.1:0" || ref.Node.TLSListen.String() != "127.0.0.1:0" {
		t.Errorf("edge-1: %+v", ref.Node)
	}
	if ref, ok := top.Lookup("shield-1"); !ok || ref.Node.Listen.String() != "127.0.0.2:0" {
		t.Errorf("shield-1: %+v", ref)
	}
	if _, ok := top.Lookup("dns-1"); !ok {
		t.Error("no dns-1")
	}
	if loaded, err := configs.Load(tp.WriteFile(t)); err != nil || len(loaded.Nodes()) != len(top.Nodes()) {
		t.Errorf("WriteFile then Load: %v", err)
	}
}

func TestOnLoopback(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	ref := testkit.OnLoopback(t, top, "eu-west-1", "")
	if n := ref.Node; n.Listen.String() != "127.0.1.1:0" || n.Admin.String() != "127.0.1.1:0" || n.TLSListen.String() != "127.0.1.1:0" {
		t.Errorf("eu-west-1 on its own host: %s %s %s", n.Listen, n.Admin, n.TLSListen)
	}
	ref = testkit.OnLoopback(t, top, "shield-1", "127.0.0.3")
	if n := ref.Node; n.Listen.String() != "127.0.0.3:0" || n.Admin.String() != "127.0.0.3:0" || !n.TLSListen.IsZero() {
		t.Errorf("shield-1 on 127.0.0.3: %s %s %q", n.Listen, n.Admin, n.TLSListen)
	}
}
