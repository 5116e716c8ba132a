package httpcache

import (
	"bytes"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestNewEntry(t *testing.T) {
	h := hdr(
		"Date", httpDate(t0.Add(-10*time.Second)),
		"Last-Modified", lm10h,
		"ETag", `"v1"`,
		"Age", "4",
		"Vary", "accept-encoding, Accept",
		"Surrogate-Key", " a  b\tc ",
	)
	d := Decision{Store: true, Lifetime: time.Minute, StaleWhileRevalidate: 2 * time.Second,
		StaleIfError: 3 * time.Second, MustRevalidate: true, NoCache: true}
	e := NewEntry(203, h, []byte("body"), d, t0.Add(-time.Second), t0)

	want := &Entry{
		Status: 203, Header: h, Body: []byte("body"),
		ResponseTime: t0,
		InitialAge:   10 * time.Second, // apparent age beats Age 4 + 1s delay
		Lifetime:     time.Minute, StaleWhileRevalidate: 2 * time.Second, StaleIfError: 3 * time.Second,
		MustRevalidate: true, NoCache: true,
		ETag:          `"v1"`,
		LastModified:  t0.Add(-10 * time.Hour),
		Date:          t0.Add(-10 * time.Second),
		Vary:          []string{"Accept", "Accept-Encoding"},
		SurrogateKeys: []string{"a", "b", "c"},
	}
	want.EnableMemo() // every new entry can memoize what a hit derives
	if !reflect.DeepEqual(e, want) {
		t.Errorf("NewEntry\n got %+v\nwant %+v", e, want)
	}
	if _, ok := e.Header["Age"]; ok {
		t.Errorf("stored header keeps Age: %v", e.Header)
	}
	if !e.HasValidator() {
		t.Error("HasValidator() = false with ETag and Last-Modified")
	}

	bare := NewEntry(200, hdr("Last-Modified", "garbage", "Date", "garbage"), nil, Decision{}, t0, t0)
	if !bare.LastModified.IsZero() || !bare.Date.IsZero() || bare.ETag != "" || bare.Vary != nil || len(bare.SurrogateKeys) != 0 {
		t.Errorf("entry without valid validators: %+v", bare)
	}
	if bare.HasValidator() {
		t.Error("HasValidator() = true without a parseable validator")
	}
}

func TestEntryAgeTTL(t *testing.T) {
	e := &Entry{ResponseTime: t0, InitialAge: 10 * time.Second, Lifetime: time.Minute}
	tests := []struct {
		at       time.Duration // since t0
		age, ttl time.Duration
	}{
		{-5 * time.Second, 10 * time.Second, 50 * time.Second}, // a clock step back never makes it younger
		{0, 10 * time.Second, 50 * time.Second},
		{20 * time.Second, 30 * time.Second, 30 * time.Second},
		{50 * time.Second, time.Minute, 0},
		{50*time.Second + time.Nanosecond, time.Minute + time.Nanosecond, -time.Nanosecond},
		{70 * time.Second, 80 * time.Second, -20 * time.Second},
		{24 * time.Hour, 24*time.Hour + 10*time.Second, time.Minute - 24*time.Hour - 10*time.Second},
	}
	for _, tt := range tests {
		now := t0.Add(tt.at)
		if got := e.Age(now); got != tt.age {
			t.Errorf("Age(t0%+v) = %v, want %v", tt.at, got, tt.age)
		}
		if got := e.TTL(now); got != tt.ttl {
			t.Errorf("TTL(t0%+v) = %v, want %v", tt.at, got, tt.ttl)
		}
	}
}

func TestEntryStoreTTL(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		e    Entry
		at   time.Duration // since t0
		want time.Duration
	}{
		{name: "fresh", e: Entry{Lifetime: time.Minute}, want: time.Minute},
		{name: "partly aged", e: Entry{Lifetime: time.Minute, InitialAge: 15 * time.Second}, at: 15 * time.Second, want: 30 * time.Second},
		{name: "longest stale window", e: Entry{Lifetime: time.Minute, StaleWhileRevalidate: 30 * time.Second, StaleIfError: 2 * time.Minute},
			want: 3 * time.Minute},
		{name: "swr longer than sie", e: Entry{Lifetime: time.Minute, StaleWhileRevalidate: 5 * time.Minute, StaleIfError: time.Second},
			want: 6 * time.Minute},
		{name: "ETag keeps a day", e: Entry{Lifetime: time.Minute, ETag: `"x"`}, want: time.Minute + day},
		{name: "Last-Modified keeps a day", e: Entry{Lifetime: time.Minute, LastModified: t0}, want: time.Minute + day},
		{name: "validator and window", e: Entry{Lifetime: time.Minute, ETag: `"x"`, StaleIfError: time.Hour}, want: time.Minute + time.Hour + day},
		{name: "stale without validator", e: Entry{Lifetime: time.Minute, InitialAge: 2 * time.Minute}, want: -time.Minute},
		{name: "stale inside its window", e: Entry{Lifetime: time.Minute, InitialAge: 2 * time.Minute, StaleIfError: 5 * time.Minute},
			want: 4 * time.Minute},
		{name: "zero lifetime with validator", e: Entry{ETag: `"x"`}, want: day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			e.ResponseTime = t0
			if got := e.StoreTTL(t0.Add(tt.at)); got != tt.want {
				t.Errorf("StoreTTL = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEntryCost(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want int64
	}{
		{name: "empty", e: Entry{}, want: EntryOverhead},
		{name: "body", e: Entry{Body: make([]byte, 1000)}, want: EntryOverhead + 1000},
		// What the body holds in memory, not its length.
		{name: "body with spare capacity", e: Entry{Body: make([]byte, 100, 32<<10)}, want: EntryOverhead + 32<<10},
		{name: "header", e: Entry{Header: http.Header{"Ab": {"x", "yy"}}}, want: EntryOverhead + 2 + 64 + (1 + 16) + (2 + 16)},
		{name: "header without values", e: Entry{Header: http.Header{"Abc": nil}}, want: EntryOverhead + 3 + 64},
		{name: "both", e: Entry{Body: []byte("hello"), Header: http.Header{"Content-Type": {"text/plain"}, "Etag": {`"1"`}}},
			want: EntryOverhead + int64(cap([]byte("hello"))) + (12 + 64 + 10 + 16) + (4 + 64 + 3 + 16)},
		{name: "vary and surrogate keys", e: Entry{VaryMarker: true, Vary: []string{"Accept-Encoding"}, SurrogateKeys: []string{"a", "b"}},
			want: EntryOverhead + (15 + 16) + 2*(1+16)},
	}
	for _, tt := range tests {
		if got := tt.e.Cost(); got != tt.want {
			t.Errorf("%s: Cost() = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// snapshot deep-copies an entry so a test can check it was not changed.
func snapshot(e *Entry) *Entry {
	c := *e
	c.Header = e.Header.Clone()
	c.Body = bytes.Clone(e.Body)
	c.Vary = slices.Clone(e.Vary)
	c.SurrogateKeys = slices.Clone(e.SurrogateKeys)
	return &c
}

func TestEntryRevalidated(t *testing.T) {
	stored := NewEntry(http.StatusOK, hdr(
		"Content-Type", "text/plain",
		"Content-Length", "5",
		"Content-Encoding", "gzip",
		"ETag", `"a"`,
		"Last-Modified", lm10h,
		"Date", httpDate(t0),
		"Cache-Control", "max-age=60",
		"Surrogate-Key", "k1 k2",
		"X-Old", "1",
		"Vary", "Accept-Encoding",
	), []byte("hello"), Decision{Store: true, Lifetime: time.Minute}, t0, t0)
	before := snapshot(stored)

	t1 := t0.Add(time.Hour)
	h304 := hdr(
		"ETag", `"b"`,
		"Date", httpDate(t1),
		"Cache-Control", "max-age=120",
		"Age", "4",
		"Surrogate-Key", "k3",
		"X-Old", "2",
		"X-New", "n",
		"Vary", "Accept-Encoding, Accept",
		// These describe the 304 itself and must not reach the stored copy.
		"Content-Length", "0",
		"Content-Encoding", "br",
		"Content-Range", "bytes */5",
		"Transfer-Encoding", "chunked",
	)
	h304Before := h304.Clone()
	d := Decision{Store: true, Lifetime: 2 * time.Minute, StaleIfError: 7 * time.Second, MustRevalidate: true}
	got := stored.Revalidated(h304, d, t1.Add(-time.Second), t1)

	if got == stored {
		t.Fatal("Revalidated returned the stored entry itself")
	}
	wantHeader := hdr(
		"Content-Type", "text/plain",
		"Content-Length", "5",
		"Content-Encoding", "gzip",
		"ETag", `"b"`,
		"Last-Modified", lm10h,
		"Date", httpDate(t1),
		"Cache-Control", "max-age=120",
		"Surrogate-Key", "k3",
		"X-Old", "2",
		"X-New", "n",
		"Vary", "Accept-Encoding, Accept",
	)
	if !reflect.DeepEqual(got.Header, wantHeader) {
		t.Errorf("merged header\n got %v\nwant %v", got.Header, wantHeader)
	}
	want := &Entry{
		Status: http.StatusOK, Header: got.Header, Body: []byte("hello"),
		ResponseTime: t1,
		InitialAge:   5 * time.Second, // the 304's Age 4 + 1s delay
		Lifetime:     2 * time.Minute, StaleIfError: 7 * time.Second, MustRevalidate: true,
		ETag: `"b"`, LastModified: t0.Add(-10 * time.Hour), Date: t1,
		Vary: []string{"Accept", "Accept-Encoding"}, SurrogateKeys: []string{"k3"},
	}
	want.EnableMemo()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Revalidated\n got %+v\nwant %+v", got, want)
	}
	if ttl := got.TTL(t1); ttl != 115*time.Second {
		t.Errorf("TTL after revalidation = %v, want 1m55s", ttl)
	}

	// The stored entry, which other requests may be serving, is untouched,
	// and so is the 304's header.
	if !reflect.DeepEqual(stored, before) {
		t.Errorf("stored entry changed\n now %+v\n was %+v", stored, before)
	}
	if !reflect.DeepEqual(h304, h304Before) {
		t.Errorf("304 header changed\n now %v\n was %v", h304, h304Before)
	}
	// Nor does the new entry's header share a map with the stored one.
	got.Header.Set("Content-Type", "changed")
	got.Header.Del("X-Old")
	if !reflect.DeepEqual(stored.Header, before.Header) {
		t.Errorf("new entry's header aliases the stored one: %v", stored.Header)
	}
}

func TestEntryRevalidatedKeepsUnrepeatedFields(t *testing.T) {
	stored := NewEntry(http.StatusNotFound, hdr("ETag", `"a"`, "Date", httpDate(t0), "X-Keep", "k"), []byte("gone"),
		Decision{Store: true, Lifetime: time.Minute}, t0, t0)
	t1 := t0.Add(time.Minute)
	got := stored.Revalidated(hdr("Date", httpDate(t1)), Decision{Store: true, Lifetime: time.Minute}, t1, t1)
	if got.Status != http.StatusNotFound || got.ETag != `"a"` || got.Header.Get("X-Keep") != "k" {
		t.Errorf("fields the 304 did not repeat were lost: %+v", got)
	}
	if got.Header.Get("Content-Length") != "4" {
		t.Errorf("Content-Length = %q, want the stored body's length 4", got.Header.Get("Content-Length"))
	}
	if !bytes.Equal(got.Body, []byte("gone")) {
		t.Errorf("Body = %q", got.Body)
	}
}

// A 304 without Date: the merged header keeps the stored response's Date,
// so the refreshed entry's apparent age is the time since the original
// response and a just-validated entry is stale at once. RFC 9110 §6.6.1
// has a cache record a Date for a response that lacks one.
func TestEntryRevalidatedWithoutDate(t *testing.T) {
	stored := NewEntry(http.StatusOK, hdr("ETag", `"a"`, "Date", httpDate(t0)), []byte("x"),
		Decision{Store: true, Lifetime: time.Minute}, t0, t0)
	t1 := t0.Add(time.Hour)
	got := stored.Revalidated(hdr("ETag", `"a"`, "Cache-Control", "max-age=60"),
		Decision{Store: true, Lifetime: time.Minute}, t1.Add(-time.Second), t1)
	if age := got.Age(t1); age != time.Second {
		t.Errorf("Age right after revalidation = %v, want 1s (the 304's response delay)", age)
	}
	if ttl := got.TTL(t1); ttl <= 0 {
		t.Errorf("TTL right after revalidation = %v, want fresh", ttl)
	}
}
