package natsbus_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/natsbus"
)

// TestApplierAppliesInOrderAndAcksAfterApplying: purges reach the cache in
// stream order, and a purge counts as applied (consumer ack floor, status)
// only once the cache returned.
func TestApplierAppliesInOrderAndAcksAfterApplying(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{URLs: []string{s.ClientURL()}})
	ids := publishN(t, b, "p", 20)

	rec := &recorder{gate: make(chan struct{}), enter: make(chan string, 1)}
	a := startApplier(t, b, "edge-1", rec)
	if got := <-rec.enter; got != "p-1" {
		t.Fatalf("first purge applied = %s", got)
	}
	// While the cache applies p-1, nothing is acknowledged or recorded.
	pos, err := natsbus.AckFloor(context.Background(), b, "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := b.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pos != 0 || nodes["edge-1"].Seq != 0 || a.Ready() {
		t.Fatalf("before applying: ack floor %d, recorded %d, ready %v", pos, nodes["edge-1"].Seq, a.Ready())
	}
	go func() {
		for range 19 {
			rec.gate <- struct{}{}
			<-rec.enter
		}
		rec.gate <- struct{}{}
	}()
	waitFor(t, "20 purges applied", 10*time.Second, func() bool { return len(rec.calls()) == 20 })
	if got := rec.calls(); !slices.Equal(got, ids) {
		t.Fatalf("applied %v, want %v", got, ids)
	}
	waitFor(t, "ready, recorded and acknowledged", 5*time.Second, func() bool {
		nodes, err := b.Nodes(context.Background())
		floor, err2 := natsbus.AckFloor(context.Background(), b, "edge-1")
		return err == nil && err2 == nil && nodes["edge-1"].Seq == 20 && floor == 20 && a.Ready()
	})
}

// TestApplierRestartAppliesMissed: a consumer stopped while purges keep
// coming applies exactly the ones it missed when it returns, and reports
// ready only after them.
func TestApplierRestartAppliesMissed(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{URLs: []string{s.ClientURL()}})
	first := publishN(t, b, "a", 5)
	rec := &recorder{}
	a := startApplier(t, b, "edge-1", rec)
	waitFor(t, "5 applied", 5*time.Second, func() bool { return len(rec.calls()) == 5 })
	waitFor(t, "5 recorded", 5*time.Second, func() bool {
		pos, err := b.Position(context.Background(), "edge-1")
		return err == nil && pos.Applied == 5
	})
	a.Stop()

	missed := publishN(t, b, "b", 7)
	rec2 := &recorder{gate: make(chan struct{})}
	a2 := startApplier(t, b, "edge-1", rec2)
	if a2.Ready() {
		t.Fatal("ready before applying the missed purges")
	}
	close(rec2.gate)
	waitFor(t, "7 applied", 5*time.Second, func() bool { return len(rec2.calls()) == 7 })
	waitFor(t, "ready", 5*time.Second, a2.Ready)
	if got := rec2.calls(); !slices.Equal(got, missed) {
		t.Fatalf("after restart applied %v, want only %v (not %v again)", got, missed, first)
	}
	if !slices.Equal(rec.calls(), first) {
		t.Fatalf("first run applied %v", rec.calls())
	}
}

// TestApplierMissedPurgesGoneMarksAllStale: a node whose last applied
// purge is older than the stream's first treats its whole cache as stale
// (once), then applies what the stream still has.
func TestApplierMissedPurgesGoneMarksAllStale(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{URLs: []string{s.ClientURL()}})
	publishN(t, b, "a", 3)
	rec := &recorder{}
	a := startApplier(t, b, "edge-1", rec)
	waitFor(t, "3 applied", 5*time.Second, func() bool { return len(rec.calls()) == 3 })
	waitFor(t, "3 recorded", 5*time.Second, func() bool {
		pos, err := b.Position(context.Background(), "edge-1")
		return err == nil && pos.Applied == 3
	})
	a.Stop()

	publishN(t, b, "gone", 5)
	// The stream loses what the node did not apply (as MaxAge would).
	if err := natsbus.RemoveThrough(context.Background(), b, 8); err != nil {
		t.Fatal(err)
	}
	kept := publishN(t, b, "c", 2)

	rec2 := &recorder{}
	a2 := startApplier(t, b, "edge-1", rec2)
	waitFor(t, "ready", 5*time.Second, func() bool { return a2.Ready() && len(rec2.calls()) == 3 })
	want := append([]string{"*ALL*"}, kept...)
	if got := rec2.calls(); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}

	// Even with nothing left in the stream, a node behind it is stale.
	a2.Stop()
	if err := natsbus.RemoveThrough(context.Background(), b, 10); err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "d", 1)
	if err := natsbus.RemoveThrough(context.Background(), b, 11); err != nil {
		t.Fatal(err)
	}
	rec3 := &recorder{}
	a3 := startApplier(t, b, "edge-1", rec3)
	waitFor(t, "ready", 5*time.Second, a3.Ready)
	if got := rec3.calls(); !slices.Equal(got, []string{"*ALL*"}) {
		t.Fatalf("behind an empty stream: %v", got)
	}
}

// TestBusUnavailable: with the server gone, operations fail at once with
// purge.ErrUnavailable (the API's 503), never a false success.
func TestBusUnavailable(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{URLs: []string{s.ClientURL()}, Timeout: 2 * time.Second})
	publishN(t, b, "a", 1)
	s.Shutdown()
	waitFor(t, "disconnect", 5*time.Second, func() bool {
		_, err := b.Publish(context.Background(), purge.Purge{Site: "www", Everything: true}, "")
		return err != nil
	})
	start := time.Now()
	_, err := b.Publish(context.Background(), purge.Purge{Site: "www", Everything: true}, "")
	if !errors.Is(err, purge.ErrUnavailable) || time.Since(start) > 3*time.Second {
		t.Fatalf("publish with NATS down: %v after %v", err, time.Since(start))
	}
}

// TestPublishDedup: the same key inside the duplicates window is one purge.
func TestPublishDedup(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{InProcess: s})
	p := purge.Purge{ID: "x", Site: "www", Everything: true}
	one, err := b.Publish(context.Background(), p, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	two, err := b.Publish(context.Background(), p, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if one.Duplicate || !two.Duplicate || one.Seq != two.Seq {
		t.Fatalf("first %+v, repeat %+v", one, two)
	}
	got, err := b.Get(context.Background(), one.Seq)
	if err != nil || got.ID != "x" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := b.Get(context.Background(), 99); !errors.Is(err, purge.ErrNotFound) {
		t.Fatalf("get 99: %v", err)
	}
}

// TestApplierRetriesFailedPurgeInPlace: a purge the cache fails to apply
// is tried again before any later purge, and applied once.
func TestApplierRetriesFailedPurgeInPlace(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{URLs: []string{s.ClientURL()}})
	ids := publishN(t, b, "p", 5)
	rec := &recorder{failures: map[string]int{"p-2": 2}}
	a := startApplier(t, b, "edge-1", rec)
	waitFor(t, "5 applied", 10*time.Second, func() bool { return len(rec.calls()) == 5 && a.Ready() })
	if got := rec.calls(); !slices.Equal(got, ids) {
		t.Fatalf("applied %v, want %v", got, ids)
	}
	rec.mu.Lock()
	tries := slices.Clone(rec.tries)
	rec.mu.Unlock()
	if want := []string{"p-1", "p-2", "p-2", "p-2", "p-3", "p-4", "p-5"}; !slices.Equal(tries, want) {
		t.Fatalf("tries %v, want %v", tries, want)
	}
}

// TestApplierMaxAgeExpiredMarksAllStale: the same through real retention:
// purges aged out of the stream while the node was away.
func TestApplierMaxAgeExpiredMarksAllStale(t *testing.T) {
	s := startServer(t, "n1", tempDir(t))
	b := connect(t, natsbus.Config{URLs: []string{s.ClientURL()}, MaxAge: time.Second, Duplicates: 100 * time.Millisecond})
	publishN(t, b, "a", 2)
	rec := &recorder{}
	a := startApplier(t, b, "edge-1", rec)
	waitFor(t, "2 recorded", 5*time.Second, func() bool {
		pos, err := b.Position(context.Background(), "edge-1")
		return err == nil && pos.Applied == 2
	})
	a.Stop()
	publishN(t, b, "gone", 3)
	waitFor(t, "the missed purges aged out", 10*time.Second, func() bool {
		pos, err := b.Position(context.Background(), "edge-1")
		return err == nil && pos.First > 5
	})
	rec2 := &recorder{}
	a2 := startApplier(t, b, "edge-1", rec2)
	waitFor(t, "ready", 5*time.Second, a2.Ready)
	if got := rec2.calls(); !slices.Equal(got, []string{"*ALL*"}) {
		t.Fatalf("after the missed purges aged out: %v", got)
	}
}
