package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

func newTestTiered(t *testing.T) *Tiered {
	t.Helper()
	d, err := openDisk(DiskConfig{Dir: t.TempDir(), MaxBytes: 64 * mib}, testTuning)
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTiered(newMemory(t, 64*mib), d, nil)
	t.Cleanup(func() { ts.Close() })
	return ts
}

func versioned(v string, n int) *httpcache.Entry {
	e := bodyEntry(n)
	e.Body = bytes.Repeat([]byte(v), n/len(v))
	e.ETag = `"` + v + `"`
	e.SurrogateKeys = []string{"t"}
	now := time.Now()
	e.ResponseTime, e.Date, e.Lifetime = now, now, time.Hour
	return e
}

// TestTieredPromotionIsOrderedAfterChanges: a disk hit queues its record's
// copy into memory; when the key changes (replaced by a 200, refreshed by a
// 304, deleted, purged by tag) after the hit read it and before the
// promoter stores its copy, the copy must not land in memory. Each case
// runs the promoter's two steps by hand, the change between them, at the
// worst moment: after the change reached the disk, before (or without)
// memory's part of it. Before the fix the
// promoter only asked whether the disk still held the key, so after a
// restart and a refetch the old body could come back in memory
// (TestNodeRevalidatesAfterRestart saw it in CI).
func TestTieredPromotionIsOrderedAfterChanges(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(ts *Tiered, old *cachedMeta)
		want   string // the ETag memory may hold after; "" for none
	}{
		{"replaced on disk, memory not yet", func(ts *Tiered, _ *cachedMeta) {
			ts.disk.Set("k", versioned("new-", 4000), time.Hour)
		}, ""},
		{"replaced in both tiers", func(ts *Tiered, _ *cachedMeta) {
			ts.Set("k", versioned("new-", 4000), time.Hour)
		}, `"new-"`},
		{"refreshed on disk", func(ts *Tiered, old *cachedMeta) {
			ts.disk.Set("k", revalidated(old.e, `"old-"`), 2*time.Hour)
		}, ""},
		{"deleted on disk", func(ts *Tiered, _ *cachedMeta) { ts.disk.Delete("k") }, ""},
		{"purged by tag on disk", func(ts *Tiered, _ *cachedMeta) { ts.disk.DeleteTag("t", nil) }, ""},
		{"unchanged", func(*Tiered, *cachedMeta) {}, `"old-"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestTiered(t)
			if !ts.disk.Set("k", versioned("old-", 4000), time.Hour) {
				t.Fatal("disk Set refused")
			}
			old, ok := ts.disk.get("k")
			if !ok {
				t.Fatal("disk hit missing")
			}
			p := promotion{key: "k", cm: old}
			cp, ttl, ok := ts.readPromotion(p)
			if !ok {
				t.Fatal("the promotion's read failed")
			}
			c.change(ts, old)
			ts.admitPromotion(p, cp, ttl)
			e, ok := ts.mem.Get("k")
			switch {
			case c.want == "" && ok:
				t.Fatalf("memory holds %s, copied from a record the disk no longer has", e.ETag)
			case c.want != "" && (!ok || e.ETag != c.want):
				t.Fatalf("memory: ok %v, want %s", ok, c.want)
			}
		})
	}
}
