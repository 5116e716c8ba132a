package httpcache

import (
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Entry is one stored response. Everything in it is immutable once the
// entry is handed to a Store: hits share Header and Body without copying,
// and an update (a 304 merge) makes a new Entry.
type Entry struct {
	Status int
	// Header is the response header as served to clients, minus Age and
	// hop-by-hop fields.
	Header http.Header
	Body   []byte

	// ResponseTime is when the response (or its last revalidation) arrived;
	// InitialAge is its corrected initial age then.
	ResponseTime time.Time
	InitialAge   time.Duration

	Lifetime                           time.Duration
	StaleWhileRevalidate, StaleIfError time.Duration
	MustRevalidate, NoCache            bool

	// ETag and LastModified are the validators, used to revalidate and to
	// answer conditional requests.
	ETag         string
	LastModified time.Time
	// Date is the response's Date, which decides whether Last-Modified is
	// a strong validator (RFC 9110 §8.8.2.2).
	Date time.Time

	// Vary lists the canonical names of the request fields the response
	// varies on, sorted; empty when it does not vary.
	Vary []string
	// SurrogateKeys are the tags a purge can name (Surrogate-Key and
	// Cache-Tag; see ParseSurrogateKeys). They are kept even where the
	// stored header no longer carries those fields (a client-facing edge).
	SurrogateKeys []string

	// VaryMarker marks the entry stored under a primary key when the
	// responses for that URL vary: it holds only Vary and VaryGen.
	VaryMarker bool
	// VaryGen distinguishes the variants of one marker from those of an
	// invalidated one, so a purged variant never becomes reachable again.
	VaryGen uint64
	// HitForPass marks a URL whose last response could not be shared, so
	// requests for it go straight upstream instead of waiting on each other.
	HitForPass bool

	// File holds the body when it lives in a file (the disk tier); Body is
	// nil then.
	File FileBody

	// Sliced marks the head of a large object whose body is kept as
	// fixed-size slices, each an entry of its own; the head has no body.
	// Size is the whole body's length and SliceSize the slices' (the last
	// may be shorter); SliceGen ties the slices to this head, so slices of
	// an older representation are never mixed in.
	Sliced    bool
	Size      int64
	SliceSize int64
	SliceGen  uint64

	// Tier says which stores may keep the entry.
	Tier Tier

	// CodingGen, when not zero, marks an entry the edge may serve
	// compressed (a text body its origin sent uncompressed): its
	// compressed variants are stored under keys that carry CodingGen, so a
	// new representation never meets the variants of an old one. A 304
	// keeps it with the body.
	CodingGen uint64

	// memo is where serving keeps values it derived (see Memo); the
	// slot itself is set once, before the entry is shared.
	memo *memoSlot
}

// Tier is a set of store tiers.
type Tier uint8

// The tiers. The zero Tier means every tier.
const (
	TierMemory Tier = 1 << iota
	TierDisk
)

// Allows reports whether the entry may be kept in tier t.
func (x Tier) Allows(t Tier) bool { return x == 0 || x&t != 0 }

// FileBody is a body kept in a file.
type FileBody interface {
	// Open returns the file positioned at the start of the body, after
	// checking that the body is whole and unchanged; an error means the
	// entry must be dropped and fetched again. The File is the caller's
	// alone until it calls Close, which may keep it open for a later Open.
	Open() (File, error)
	// Size is the body's length.
	Size() int64
}

// File is an open body file lent to one reader: its position is the
// reader's own. SyscallConn gives the file descriptor, so net/http can
// send the file with sendfile(2) (an *io.LimitedReader over a File keeps
// that path). Close hands it back; it must not be used after.
type File interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	syscall.Conn
}

// BodySize is the length of the entry's stored body, wherever it is.
func (e *Entry) BodySize() int64 {
	if e.File != nil {
		return e.File.Size()
	}
	return int64(len(e.Body))
}

// NewEntry builds an entry from a response's stored header and a decision.
func NewEntry(status int, h http.Header, body []byte, d Decision, requestTime, responseTime time.Time) *Entry {
	e := &Entry{
		Status:               status,
		Header:               h,
		Body:                 body,
		ResponseTime:         responseTime,
		InitialAge:           InitialAge(h, requestTime, responseTime),
		Lifetime:             d.Lifetime,
		StaleWhileRevalidate: d.StaleWhileRevalidate,
		StaleIfError:         d.StaleIfError,
		MustRevalidate:       d.MustRevalidate,
		NoCache:              d.NoCache,
		ETag:                 h.Get("ETag"),
		Vary:                 ParseVary(h),
		SurrogateKeys:        ParseSurrogateKeys(h),
	}
	if lm, ok := ParseHTTPDate(h.Get("Last-Modified"), responseTime); ok {
		e.LastModified = lm
	}
	if d, ok := ParseHTTPDate(h.Get("Date"), responseTime); ok {
		e.Date = d
	}
	// Age is computed per request; the stored copy must not carry the
	// upstream's.
	h.Del("Age")
	e.EnableMemo()
	return e
}

// Age is the entry's current age (RFC 9111 §4.2.3).
func (e *Entry) Age(now time.Time) time.Duration {
	resident := now.Sub(e.ResponseTime)
	if resident < 0 {
		resident = 0
	}
	return e.InitialAge + resident
}

// TTL is the freshness left at now; negative once stale.
func (e *Entry) TTL(now time.Time) time.Duration { return e.Lifetime - e.Age(now) }

// HasValidator reports whether the entry can be revalidated.
func (e *Entry) HasValidator() bool { return e.ETag != "" || !e.LastModified.IsZero() }

// EntryOverhead is what an entry takes in memory besides its body's
// capacity and its header's bytes (counted by Cost): the Entry itself (a
// 352-byte allocation), its header map's fixed part, and the memory tier's
// bookkeeping of its key (ristretto keeps a 48-byte item in a map, an
// expiry record and a cost in two more maps, with their spare room).
// Measured by store.TestMemoryCostCoversHeap, which caches entries with
// the 7-field header of a Go origin's small asset and compares the Go
// heap's growth with their Cost: 430 to 540 bytes per entry beyond the
// body and the field bytes Cost counts, for 1,000 to 70,000 entries
// (go1.26, amd64; the spread is the maps' growth steps). 640 leaves a
// margin; 192 more pay for the Memo a served entry keeps (a 112-byte
// struct, its Cache-Status string, its slot).
const EntryOverhead = 640 + 192

// codingKeysOverhead is the fixed part of what a compressible entry
// keeps of its variants' keys.
const codingKeysOverhead = 80 + 2*64

// headerFieldOverhead is what one header field costs beyond its name's
// and values' bytes: its map slot (a 16-byte key, a 24-byte slice, a
// control byte, at most 7/8 full) and its values' 16-byte string headers.
const headerFieldOverhead = 64

// Cost is the entry's memory footprint in bytes, as the memory tier counts
// it: the body's capacity (what the body holds, not its length), the
// header's fields, Vary and surrogate keys, and EntryOverhead.
func (e *Entry) Cost() int64 {
	n := int64(cap(e.Body)) + EntryOverhead
	if e.CodingGen != 0 {
		// The keys of its compressed variants, remembered once made
		// (SetDerivedKey): a 80-byte record, two slices, the keys.
		n += codingKeysOverhead + maxDerivedKeys*int64(64)
	}
	for k, vs := range e.Header {
		n += int64(len(k)) + headerFieldOverhead
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	// Vary's names are new strings; so are surrogate keys where the
	// stored header no longer has their fields (a client-facing edge), and
	// counting their bytes everywhere keeps the bound safe.
	for _, v := range e.Vary {
		n += int64(len(v)) + 16
	}
	for _, k := range e.SurrogateKeys {
		n += int64(len(k)) + 16
	}
	return n
}

// StoreTTL is how long a store should keep the entry: its freshness plus
// the longest stale window, plus a day for entries that can be revalidated.
func (e *Entry) StoreTTL(now time.Time) time.Duration {
	ttl := e.TTL(now) + max(e.StaleWhileRevalidate, e.StaleIfError)
	if e.HasValidator() {
		ttl += 24 * time.Hour
	}
	return ttl
}

// Revalidated returns a copy of e refreshed by a 304 response: the 304's
// header fields replace the stored ones (RFC 9111 §4.3.4) and the
// freshness is that of the 304.
func (e *Entry) Revalidated(h304 http.Header, d Decision, requestTime, responseTime time.Time) *Entry {
	h := e.Header.Clone()
	for k, vs := range h304 {
		switch k {
		case "Content-Length", "Content-Range", "Content-Encoding", "Transfer-Encoding":
			// These describe the 304 itself, not the stored body.
			continue
		}
		h[k] = vs
	}
	if _, ok := h304["Date"]; !ok {
		// A response without Date gets the time it was received
		// (RFC 9110 §6.6.1); keeping the stored Date would age the
		// refreshed entry by the time since the original response.
		h.Set("Date", responseTime.UTC().Format(http.TimeFormat))
	}
	ne := NewEntry(e.Status, h, e.Body, d, requestTime, responseTime)
	// The body, wherever it is kept, and its slicing stay as they were.
	ne.File = e.File
	ne.Sliced, ne.Size, ne.SliceSize, ne.SliceGen = e.Sliced, e.Size, e.SliceSize, e.SliceGen
	ne.Tier = e.Tier
	ne.CodingGen = e.CodingGen
	if len(ne.SurrogateKeys) == 0 {
		// A 304 without the tag fields leaves the stored keys as they are
		// (and at an edge the fields were never in the stored header).
		ne.SurrogateKeys = e.SurrogateKeys
	}
	size := e.BodySize()
	if e.Sliced {
		size = e.Size
	}
	ne.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	return ne
}
