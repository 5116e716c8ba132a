package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/natsbus"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The NATS client's and server's sockets may take a moment to
		// notice a closed peer.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// startServer starts an embedded NATS server on a random loopback port.
func startServer(t *testing.T, name, dir string) *natsbus.Server {
	t.Helper()
	s, err := natsbus.StartServer(natsbus.ServerConfig{Name: name, Dir: dir, Host: "127.0.0.1", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// connect returns a bus on the servers at urls.
func connect(t *testing.T, cfg natsbus.Config) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// recorder is an Invalidator that records its calls; gate, when set, holds
// each call until it receives.
type recorder struct {
	mu    sync.Mutex
	ids   []string
	all   int
	gate  chan struct{}
	enter chan string
	// failures makes the calls for these ids fail that many times.
	failures map[string]int
	tries    []string
}

func (r *recorder) Invalidate(ctx context.Context, p purge.Purge) error {
	r.mu.Lock()
	r.tries = append(r.tries, p.ID)
	if r.failures[p.ID] > 0 {
		r.failures[p.ID]--
		r.mu.Unlock()
		return errors.New("cache refused")
	}
	r.mu.Unlock()
	if r.enter != nil {
		r.enter <- p.ID
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, p.ID)
	return nil
}

func (r *recorder) InvalidateAll(context.Context, time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all++
	r.ids = append(r.ids, "*ALL*")
	return nil
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// publishN publishes n purges with ids prefix-1..prefix-n.
func publishN(t *testing.T, b purge.Bus, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		p := purge.Purge{ID: id, Site: "www", Files: []string{"/" + id}, Accepted: time.Now()}
		if _, err := b.Publish(context.Background(), p, ""); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func startApplier(t *testing.T, b purge.Bus, node string, inv purge.Invalidator) *purge.Applier {
	t.Helper()
	a, err := purge.NewApplier(purge.ApplierConfig{Node: node, Bus: b, Cache: inv})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a
}

func tempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "natsbus-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
