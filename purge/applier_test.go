package purge_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tern-cdn/tern/purge"
)

// fakeBus holds purges by sequence and lets the test deliver them in any
// order, as a NATS server that died with deliveries in flight would.
type fakeBus struct {
	mu      sync.Mutex
	first   uint64
	stored  map[uint64]purge.Purge
	last    uint64
	handler purge.Handler
	records []uint64
}

func (b *fakeBus) Publish(context.Context, purge.Purge, string) (purge.Published, error) {
	return purge.Published{}, nil
}

func (b *fakeBus) Position(context.Context, string) (purge.Position, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return purge.Position{First: b.first, Last: b.last}, nil
}

func (b *fakeBus) Subscribe(_ context.Context, _ string, h purge.Handler) (purge.Subscription, error) {
	b.handler = h
	return stopper{}, nil
}

func (b *fakeBus) Record(_ context.Context, _ string, st purge.NodeState) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records = append(b.records, st.Seq)
	return nil
}

func (b *fakeBus) Nodes(context.Context) (map[string]purge.NodeState, error) { return nil, nil }

func (b *fakeBus) Get(_ context.Context, seq uint64) (purge.Purge, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.stored[seq]
	if !ok {
		return purge.Purge{}, purge.ErrNotFound
	}
	return p, nil
}

func (b *fakeBus) deliver(t *testing.T, seq uint64) {
	t.Helper()
	b.mu.Lock()
	p, pending := b.stored[seq], b.last-seq
	b.mu.Unlock()
	if err := b.handler(context.Background(), purge.Delivery{Purge: p, Seq: seq, Pending: pending}); err != nil {
		t.Fatalf("deliver %d: %v", seq, err)
	}
}

type stopper struct{}

func (stopper) Stop() {}

type calls struct {
	mu  sync.Mutex
	ids []string
}

func (c *calls) Invalidate(_ context.Context, p purge.Purge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, p.ID)
	return nil
}

func (c *calls) InvalidateAll(context.Context, time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, "*ALL*")
	return nil
}

func newFakeBus(first, last uint64) *fakeBus {
	b := &fakeBus{first: first, last: last, stored: map[uint64]purge.Purge{}}
	for s := first; s <= last; s++ {
		b.stored[s] = purge.Purge{ID: "p" + strconv.FormatUint(s, 10), Site: "www", Everything: true}
	}
	return b
}

// TestApplierFillsDeliveriesLostInFlight: a purge delivered before earlier
// ones (lost when a NATS server died) waits for them, read from the stream:
// all are applied in order, once, and the whole cache is not dropped.
func TestApplierFillsDeliveriesLostInFlight(t *testing.T) {
	b := newFakeBus(1, 4)
	c := &calls{}
	a, err := purge.NewApplier(purge.ApplierConfig{Node: "edge-1", Bus: b, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.deliver(t, 1)
	b.deliver(t, 4) // 2 and 3 lost in flight
	b.deliver(t, 2) // redelivered later
	b.deliver(t, 3)
	a.Stop()
	if want := []string{"p1", "p2", "p3", "p4"}; !slices.Equal(c.ids, want) {
		t.Fatalf("applied %v, want %v", c.ids, want)
	}
	if !a.Ready() || a.Applied() != 4 || b.records[len(b.records)-1] != 4 {
		t.Fatalf("ready %v applied %d records %v", a.Ready(), a.Applied(), b.records)
	}
}

// TestApplierGapGoneFromStream: when the purges before a delivery are no
// longer in the stream, the cache is treated as stale once.
func TestApplierGapGoneFromStream(t *testing.T) {
	b := newFakeBus(1, 5)
	c := &calls{}
	a, err := purge.NewApplier(purge.ApplierConfig{Node: "edge-1", Bus: b, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.deliver(t, 1)
	b.mu.Lock()
	delete(b.stored, 2)
	delete(b.stored, 3)
	b.first = 4 // removed while the node was cut off
	b.mu.Unlock()
	b.deliver(t, 5)
	a.Stop()
	if want := []string{"p1", "*ALL*", "p4", "p5"}; !slices.Equal(c.ids, want) {
		t.Fatalf("applied %v, want %v", c.ids, want)
	}
}
