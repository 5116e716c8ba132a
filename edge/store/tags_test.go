package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// tagged is an entry with a small body carrying tags.
func tagged(tags ...string) *httpcache.Entry {
	e := bodyEntry(10)
	e.SurrogateKeys = tags
	return e
}

// tagStore is what both tiers and Tiered offer for tag purges.
type tagStore interface {
	httpcache.Store
	DeleteTag(tag string, match func(key string) bool) int
}

// testDeleteTag checks a tag purge on any tier: only the entries that
// carry the tag go, a key match scopes it (the edge scopes by site), a
// key stored again without the tag stays, and a replaced entry's old
// tags no longer name it.
func testDeleteTag(t *testing.T, s tagStore) {
	t.Helper()
	set := func(k string, e *httpcache.Entry) {
		t.Helper()
		if !s.Set(k, e, time.Hour) {
			t.Fatalf("Set(%s) refused", k)
		}
	}
	set("https://a.test/1", tagged("red", "blue"))
	set("https://a.test/2", tagged("red"))
	set("https://a.test/3", tagged("blue"))
	set("https://b.test/1", tagged("red"))
	set("https://a.test/4", bodyEntry(10))
	set("https://a.test/5", tagged("red"))
	set("https://a.test/5", tagged("green")) // replaced: no longer red

	onlyA := func(k string) bool { return strings.HasPrefix(k, "https://a.test/") }
	if n := s.DeleteTag("red", onlyA); n != 2 {
		t.Errorf("DeleteTag(red, a.test) = %d, want 2", n)
	}
	for k, want := range map[string]bool{
		"https://a.test/1": false, "https://a.test/2": false, "https://a.test/3": true,
		"https://b.test/1": true, "https://a.test/4": true, "https://a.test/5": true,
	} {
		if _, ok := s.Get(k); ok != want {
			t.Errorf("after the purge of red at a.test: Get(%s) found=%v, want %v", k, ok, want)
		}
	}
	if n := s.DeleteTag("red", nil); n != 1 {
		t.Errorf("DeleteTag(red) = %d, want 1 (b.test/1)", n)
	}
	if n := s.DeleteTag("red", nil); n != 0 {
		t.Errorf("DeleteTag(red) again = %d, want 0", n)
	}
	s.Delete("https://a.test/3")
	if n := s.DeleteTag("blue", nil); n != 0 {
		t.Errorf("DeleteTag(blue) after the only blue entry was deleted = %d, want 0", n)
	}
	if n := s.DeleteTag("green", nil); n != 1 {
		t.Errorf("DeleteTag(green) = %d, want 1", n)
	}
}

func TestMemoryDeleteTag(t *testing.T) {
	m := newMemory(t, 64*mib)
	testDeleteTag(t, m)
	if n := len(m.tags.keyOf); n != 0 {
		t.Errorf("memory tag index holds %d entries after every tagged entry left", n)
	}
}

// An entry evicted by ristretto leaves the tag index too, so the index
// never grows past what the tier holds.
func TestMemoryTagIndexFollowsEviction(t *testing.T) {
	m := newMemory(t, 200*kib)
	for i := range 2000 {
		m.Set(fmt.Sprintf("k%d", i), tagged("t", fmt.Sprintf("u%d", i)), time.Hour)
	}
	m.c.Wait()
	held := 0
	for i := range 2000 {
		if _, ok := m.Get(fmt.Sprintf("k%d", i)); ok {
			held++
		}
	}
	m.tags.mu.Lock()
	indexed, tags := len(m.tags.keyOf), len(m.tags.byTag)
	m.tags.mu.Unlock()
	if indexed != held || tags != held+1 {
		t.Errorf("index holds %d entries and %d tags; the tier holds %d entries (want %d tags)", indexed, tags, held, held+1)
	}
	if n := m.DeleteTag("t", nil); n != held {
		t.Errorf("DeleteTag(t) = %d, want %d", n, held)
	}
}

func TestDiskDeleteTag(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	testDeleteTag(t, d)
	n, _ := bodyFiles(t, d)
	if want := int(d.Objects()); n != want {
		t.Errorf("%d body files for %d objects after tag purges", n, want)
	}
}

func TestTieredDeleteTag(t *testing.T) {
	mem := newMemory(t, 64*mib)
	d, err := openDisk(DiskConfig{Dir: t.TempDir(), MaxBytes: 64 * mib}, testTuning)
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTiered(mem, d, nil)
	t.Cleanup(func() { ts.Close() })
	testDeleteTag(t, ts)
}

// The tag index is kept with the records: after a restart a tag purge
// still finds the entries, and an evicted entry's tag keys are gone.
func TestDiskTagsPersistAndFollowEviction(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	cfg := DiskConfig{Dir: dir, MaxBytes: 64 * mib, Now: clk.Now}
	d1, err := openDisk(cfg, testTuning)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		d1.Set(fmt.Sprintf("https://a.test/%d", i), tagged("t"), time.Hour)
	}
	if err := d1.SetState("bans", []byte("state-1")); err != nil {
		t.Fatal(err)
	}
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := openTestDisk(t, cfg)
	if got := string(d2.State("bans")); got != "state-1" {
		t.Errorf("State after a restart = %q, want state-1", got)
	}
	if got := d2.State("other"); got != nil {
		t.Errorf("State(other) = %q, want nil", got)
	}
	if n := d2.DeleteTag("t", nil); n != 10 {
		t.Errorf("DeleteTag after a restart = %d, want 10", n)
	}

	// Eviction: a budget for about 20 small objects, 100 written.
	small := openTestDisk(t, DiskConfig{MaxBytes: 20 * entryCost("https://a.test/00", tagged("t")), Now: clk.Now})
	for i := range 100 {
		small.Set(fmt.Sprintf("https://a.test/%02d", i), tagged("t"), time.Hour)
	}
	keys := small.tagged("t")
	if int64(len(keys)) != small.Objects() {
		t.Errorf("tag index names %d keys, the cache holds %d objects", len(keys), small.Objects())
	}
	for _, k := range keys {
		if _, ok := small.Get(k); !ok {
			t.Errorf("tag index names %s, which is not stored", k)
		}
	}
	if !slices.IsSorted(keys) {
		t.Errorf("tag keys not in order: %q", keys)
	}
}
