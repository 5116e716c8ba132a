package store

import (
	"github.com/tern-cdn/tern/edge/httpcache"

	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-cdn/tern/internal/testkit"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// bodyEntry is an entry with a body of n bytes.
func bodyEntry(n int) *httpcache.Entry {
	return &httpcache.Entry{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: make([]byte, n)}
}

// newMemory opens a Memory store that is closed when the test ends.
func newMemory(t *testing.T, maxBytes int64) *Memory {
	t.Helper()
	m, err := NewMemory(maxBytes)
	if err != nil {
		t.Fatalf("NewMemory(%d): %v", maxBytes, err)
	}
	t.Cleanup(m.Close)
	return m
}

// testStore checks the Store contract on an empty store large enough for a
// few small entries. Every implementation runs it.
func testStore(t *testing.T, s httpcache.Store) {
	t.Run("missing", func(t *testing.T) {
		if e, ok := s.Get("missing"); ok || e != nil {
			t.Errorf("Get(missing) = %v, %v; want nil, false", e, ok)
		}
	})
	t.Run("set then get", func(t *testing.T) {
		e := bodyEntry(10)
		if !s.Set("a", e, time.Hour) {
			t.Fatal("Set refused a small entry")
		}
		if got, ok := s.Get("a"); !ok || got != e {
			t.Errorf("Get after Set = %p, %v; want %p, true", got, ok, e)
		}
		if got, ok := s.Get("A"); ok {
			t.Errorf("keys are case-sensitive: Get(A) = %p", got)
		}
	})
	t.Run("overwrite", func(t *testing.T) {
		first, second := bodyEntry(10), bodyEntry(20)
		s.Set("b", first, time.Hour)
		if !s.Set("b", second, time.Hour) {
			t.Fatal("Set refused an overwrite")
		}
		if got, ok := s.Get("b"); !ok || got != second {
			t.Errorf("Get after overwrite = %p, %v; want the second entry %p", got, ok, second)
		}
	})
	t.Run("delete", func(t *testing.T) {
		keep, gone := bodyEntry(1), bodyEntry(2)
		s.Set("keep", keep, time.Hour)
		s.Set("gone", gone, time.Hour)
		s.Delete("gone")
		if got, ok := s.Get("gone"); ok {
			t.Errorf("Get after Delete = %p, true", got)
		}
		if got, ok := s.Get("keep"); !ok || got != keep {
			t.Errorf("Delete removed another key: Get(keep) = %p, %v", got, ok)
		}
		s.Delete("gone")
		s.Delete("never-set")
		if !s.Set("gone", gone, time.Hour) {
			t.Fatal("Set after Delete refused")
		}
		if got, ok := s.Get("gone"); !ok || got != gone {
			t.Errorf("Get after Delete and Set = %p, %v", got, ok)
		}
	})
	t.Run("non-positive ttl", func(t *testing.T) {
		for _, ttl := range []time.Duration{0, -time.Second} {
			if s.Set("ttl", bodyEntry(1), ttl) {
				t.Errorf("Set with ttl %v admitted", ttl)
			}
			if got, ok := s.Get("ttl"); ok {
				t.Errorf("Set with ttl %v stored %p", ttl, got)
			}
		}
	})
	t.Run("ttl expiry", func(t *testing.T) {
		short, long := bodyEntry(1), bodyEntry(1)
		if !s.Set("short", short, 300*time.Millisecond) || !s.Set("long", long, time.Hour) {
			t.Fatal("Set refused")
		}
		if _, ok := s.Get("short"); !ok {
			t.Fatal("entry gone before its ttl")
		}
		// Poll rather than sleep past a cleanup tick: Get must stop
		// returning the entry soon after its ttl, wherever the ticker is.
		testkit.Eventually(t, 10*time.Second, "the entry with a 300ms ttl to expire", func() bool {
			_, ok := s.Get("short")
			return !ok
		})
		if got, ok := s.Get("long"); !ok || got != long {
			t.Errorf("expiry removed an entry with a long ttl: %p, %v", got, ok)
		}
	})
	t.Run("concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 200 {
					k := fmt.Sprintf("c%d", (g*7+i)%16)
					e := bodyEntry(i % 50)
					switch i % 3 {
					case 0:
						s.Set(k, e, time.Hour)
					case 1:
						if got, ok := s.Get(k); ok && got == nil {
							t.Errorf("Get(%s) = nil, true", k)
						}
					case 2:
						s.Delete(k)
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestMemoryStore(t *testing.T) {
	testStore(t, newMemory(t, 64*mib))
}

func TestNewMemoryInvalidSize(t *testing.T) {
	for _, n := range []int64{0, -1, -64 * mib} {
		m, err := NewMemory(n)
		if err == nil {
			m.Close()
			t.Errorf("NewMemory(%d) succeeded", n)
			continue
		}
		if m != nil {
			t.Errorf("NewMemory(%d) returned a store with its error", n)
		}
		if !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("NewMemory(%d) error %q lacks the package prefix", n, err)
		}
	}
}

func TestMemoryAccounting(t *testing.T) {
	m := newMemory(t, mib)
	if m.MaxBytes() != mib {
		t.Errorf("MaxBytes() = %d, want %d", m.MaxBytes(), mib)
	}
	if m.Bytes() != 0 || m.Objects() != 0 {
		t.Errorf("empty store: Bytes() = %d, Objects() = %d", m.Bytes(), m.Objects())
	}
	a, b, c := bodyEntry(1000), bodyEntry(2000), bodyEntry(3000)
	for k, e := range map[string]*httpcache.Entry{"a": a, "b": b, "c": c} {
		if !m.Set(k, e, time.Hour) {
			t.Fatalf("Set(%s) refused", k)
		}
	}
	if want := a.Cost() + b.Cost() + c.Cost(); m.Bytes() != want {
		t.Errorf("Bytes() = %d, want the entries' cost %d", m.Bytes(), want)
	}
	if m.Objects() != 3 {
		t.Errorf("Objects() = %d, want 3", m.Objects())
	}
	m.Delete("b")
	m.Delete("b")
	m.Delete("never-set")
	m.c.Wait() // Delete updates the cost accounting asynchronously.
	if want := a.Cost() + c.Cost(); m.Bytes() != want {
		t.Errorf("after Delete: Bytes() = %d, want %d", m.Bytes(), want)
	}
}

// ristretto already counts a deleted key as evicted, and Memory subtracts
// its own count of deletions as well, so every Delete lowers Objects() by
// two and the tern_edge_store_objects gauge drifts below zero after purges.
func TestMemoryObjectsAfterDelete(t *testing.T) {
	m := newMemory(t, mib)
	for _, k := range []string{"a", "b", "c"} {
		m.Set(k, bodyEntry(100), time.Hour)
	}
	m.Delete("b")
	m.c.Wait()
	if got := m.Objects(); got != 2 {
		t.Errorf("after deleting 1 of 3: Objects() = %d, want 2", got)
	}
	m.Delete("a")
	m.Delete("c")
	m.c.Wait()
	if got := m.Objects(); got != 0 {
		t.Errorf("after deleting all: Objects() = %d, want 0", got)
	}
}

func TestMemoryRefusesOversizedEntry(t *testing.T) {
	m := newMemory(t, mib)
	e := bodyEntry(mib) // plus header and overhead: over budget
	if m.Set("big", e, time.Hour) {
		t.Error("Set admitted an entry larger than the store")
	}
	if _, ok := m.Get("big"); ok {
		t.Error("oversized entry is retrievable")
	}
	if m.Bytes() != 0 {
		t.Errorf("Bytes() = %d after a refused Set", m.Bytes())
	}
	fits := &httpcache.Entry{Body: make([]byte, mib-httpcache.EntryOverhead)} // Cost() is exactly MaxBytes
	if fits.Cost() != mib {
		t.Fatalf("test entry costs %d", fits.Cost())
	}
	if !m.Set("fits", fits, time.Hour) {
		t.Error("Set refused an entry of exactly MaxBytes")
	}
}

// retained sums the cost of the entries under keys that Get still returns.
func retained(s httpcache.Store, keys []string) (n int, cost int64) {
	for _, k := range keys {
		if e, ok := s.Get(k); ok {
			n++
			cost += e.Cost()
		}
	}
	return n, cost
}

// TestMemoryByteBound writes ten times the budget, in entries of mixed
// sizes from four goroutines, and checks that the store never holds more
// than its budget, by its own count and by what Get returns.
func TestMemoryByteBound(t *testing.T) {
	m := newMemory(t, mib)
	const writers, perWriter = 4, 10 * mib / 4

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys []string
	)
	for g := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			var mine []string
			for written, i := int64(0), 0; written < perWriter; i++ {
				e := bodyEntry(kib + rng.IntN(63*kib+1))
				k := fmt.Sprintf("w%d/%d", g, i)
				m.Set(k, e, time.Hour)
				written += e.Cost()
				mine = append(mine, k)
				if b := m.Bytes(); b > m.MaxBytes() {
					t.Errorf("after Set(%s): Bytes() = %d > MaxBytes() = %d", k, b, m.MaxBytes())
					return
				}
			}
			mu.Lock()
			keys = append(keys, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()

	if b := m.Bytes(); b > m.MaxBytes() {
		t.Errorf("Bytes() = %d > MaxBytes() = %d", b, m.MaxBytes())
	}
	n, cost := retained(m, keys)
	t.Logf("wrote %d entries; %d retrievable, %d bytes; Bytes() = %d", len(keys), n, cost, m.Bytes())
	if cost > mib {
		t.Errorf("retrievable entries cost %d bytes > budget %d", cost, mib)
	}
	if n == 0 {
		t.Error("nothing retrievable: the store admitted none of the writes")
	}
}

// Overwriting keys with larger entries must keep the budget too: a
// revalidation or refill stores a new entry under an existing key.
// ristretto applies the cost of an update without evicting anything.
func TestMemoryByteBoundOverwrite(t *testing.T) {
	m := newMemory(t, mib)
	var keys []string
	for i := range 16 {
		k := fmt.Sprintf("k%d", i)
		keys = append(keys, k)
		m.Set(k, bodyEntry(32*kib), time.Hour)
	}
	for _, k := range keys {
		m.Set(k, bodyEntry(128*kib), time.Hour)
		if b := m.Bytes(); b > m.MaxBytes() {
			t.Fatalf("after overwriting %s: Bytes() = %d > MaxBytes() = %d", k, b, m.MaxBytes())
		}
		if _, cost := retained(m, keys); cost > mib {
			t.Fatalf("after overwriting %s: retrievable entries cost %d > %d", k, cost, mib)
		}
	}
}

// An entry larger than the budget is refused even when it replaces one
// that fits.
func TestMemoryRefusesOversizedOverwrite(t *testing.T) {
	m := newMemory(t, mib)
	if !m.Set("k", bodyEntry(kib), time.Hour) {
		t.Fatal("Set refused a small entry")
	}
	big := bodyEntry(2 * mib)
	if m.Set("k", big, time.Hour) {
		t.Error("Set admitted a 2 MiB entry into a 1 MiB store")
	}
	if e, ok := m.Get("k"); ok && e == big {
		t.Error("the oversized entry is retrievable")
	}
	if b := m.Bytes(); b > m.MaxBytes() {
		t.Errorf("Bytes() = %d > MaxBytes() = %d", b, m.MaxBytes())
	}
}
