package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestMemo(t *testing.T) {
	now := time.Unix(1e9, 0)
	e := NewEntry(200, http.Header{}, nil, Decision{Store: true, Lifetime: time.Minute}, now, now)
	if e.Memoized([2]int64{0, 60}) != nil {
		t.Fatal("a new entry has a memo")
	}
	m := e.Memoize([2]int64{0, 60}, "status", "0")
	if got := e.Memoized([2]int64{0, 60}); got != m {
		t.Fatalf("Memoized = %v, want the stored memo", got)
	}
	if e.Memoized([2]int64{1, 59}) != nil {
		t.Error("a memo answered for another key")
	}
	// A copy shares the slot but not the values.
	cp := *e
	if cp.Memoized([2]int64{0, 60}) != nil {
		t.Error("a copy of the entry took the original's memo")
	}
	// Fields have no spare capacity: appending cannot write into a memo
	// other responses share.
	f := append(m.Fields[0], "more")
	if m.Fields[0][0] != "status" || len(m.Fields[0]) != 1 || &f[0] == &m.Fields[0][0] {
		t.Error("append changed the shared field")
	}
	// Entries without a slot still give their values.
	var lit Entry
	if got := lit.Memoize([2]int64{0, 0}, "a", "b"); got.Fields[1][0] != "b" || lit.Memoized([2]int64{0, 0}) != nil {
		t.Error("an entry without a slot memoized")
	}
}

func TestDerivedKey(t *testing.T) {
	now := time.Unix(1e9, 0)
	e := NewEntry(200, http.Header{}, nil, Decision{Store: true, Lifetime: time.Minute}, now, now)
	if _, ok := e.DerivedKey("k", "br"); ok {
		t.Fatal("a new entry has a derived key")
	}
	e.SetDerivedKey("k", "br", "k/br")
	e.SetDerivedKey("k", "gzip", "k/gzip")
	for tag, want := range map[string]string{"br": "k/br", "gzip": "k/gzip"} {
		if got, ok := e.DerivedKey("k", tag); !ok || got != want {
			t.Errorf("DerivedKey(k, %s) = %q, %v", tag, got, ok)
		}
	}
	if _, ok := e.DerivedKey("other", "br"); ok {
		t.Error("a key derived from another base was returned")
	}
	cp := *e
	if _, ok := cp.DerivedKey("k", "br"); ok {
		t.Error("a copy took the original's keys")
	}
	for i := range 10 {
		e.SetDerivedKey("k", string(rune('a'+i)), "x")
	}
	if _, ok := e.DerivedKey("k", "br"); !ok {
		t.Error("remembering more keys than the bound dropped the first")
	}
}
