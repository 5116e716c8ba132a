package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// The entry codec turns an Entry's metadata (every exported field but Body
// and File) into bytes for the disk index and back.
//
// Format version 1, in this order (uvarint/varint as in encoding/binary):
//
//	version    byte (1)
//	Status     uvarint
//	Header     uvarint count, then per field (sorted by name): name
//	           string, uvarint value count, value strings
//	ResponseTime time
//	InitialAge, Lifetime, StaleWhileRevalidate, StaleIfError  varint ns
//	flags      byte: MustRevalidate 1, NoCache 2, VaryMarker 4,
//	           HitForPass 8, Sliced 16
//	ETag       string
//	LastModified, Date  time
//	Vary, SurrogateKeys  uvarint count, strings
//	VaryGen    uvarint
//	Size, SliceSize  varint
//	SliceGen   uvarint
//	Tier       byte
//	CodingGen  uvarint (version 2; a version 1 record has none: 0)
//
// A string is a uvarint length and its bytes. A time is one byte, 0 for the
// zero Time, else 1 followed by varint Unix seconds and uvarint
// nanoseconds: the wall clock, in UTC, without the monotonic reading, which
// is all Entry.Age needs to be right after a restart.
//
// A change to the format bumps codecVersion; decodeEntry refuses versions
// it does not know, and the disk tier drops such records as corrupt (they
// are a cache: refetching is the migration). Version 1 records, which
// differ only by lacking CodingGen, are still read.
const codecVersion = 2

const (
	flagMustRevalidate = 1 << iota
	flagNoCache
	flagVaryMarker
	flagHitForPass
	flagSliced
)

// errCodec is wrapped by every decoding error.
var errCodec = errors.New("store: bad entry encoding")

// encodeEntry appends e's metadata to dst.
func encodeEntry(dst []byte, e *httpcache.Entry) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(e.Status))

	names := make([]string, 0, len(e.Header))
	for k := range e.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, k := range names {
		dst = appendString(dst, k)
		dst = appendStrings(dst, e.Header[k])
	}

	dst = appendTime(dst, e.ResponseTime)
	for _, d := range [...]time.Duration{e.InitialAge, e.Lifetime, e.StaleWhileRevalidate, e.StaleIfError} {
		dst = binary.AppendVarint(dst, int64(d))
	}
	var flags byte
	for _, f := range [...]struct {
		on  bool
		bit byte
	}{
		{e.MustRevalidate, flagMustRevalidate}, {e.NoCache, flagNoCache},
		{e.VaryMarker, flagVaryMarker}, {e.HitForPass, flagHitForPass}, {e.Sliced, flagSliced},
	} {
		if f.on {
			flags |= f.bit
		}
	}
	dst = append(dst, flags)
	dst = appendString(dst, e.ETag)
	dst = appendTime(dst, e.LastModified)
	dst = appendTime(dst, e.Date)
	dst = appendStrings(dst, e.Vary)
	dst = appendStrings(dst, e.SurrogateKeys)
	dst = binary.AppendUvarint(dst, e.VaryGen)
	dst = binary.AppendVarint(dst, e.Size)
	dst = binary.AppendVarint(dst, e.SliceSize)
	dst = binary.AppendUvarint(dst, e.SliceGen)
	dst = append(dst, byte(e.Tier))
	return binary.AppendUvarint(dst, e.CodingGen)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// decodeEntry decodes what encodeEntry wrote. The strings are copied, so b
// may be memory that goes away (a bbolt page). Slices and the header of an
// encoding with none decode as nil.
func decodeEntry(b []byte) (*httpcache.Entry, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", errCodec)
	}
	if b[0] != codecVersion && b[0] != 1 {
		return nil, fmt.Errorf("%w: version %d, want %d", errCodec, b[0], codecVersion)
	}
	// One copy of the input backs every string of the entry: one
	// allocation instead of one per string.
	all := string(b[1:])
	d := decoder{b: b[1:], all: all}
	e := &httpcache.Entry{Status: int(d.uvarint())}
	if n := d.count(); n > 0 {
		e.Header = make(http.Header, n)
		for range n {
			k := d.string()
			e.Header[k] = d.strings()
		}
	}
	e.ResponseTime = d.time()
	e.InitialAge = time.Duration(d.varint())
	e.Lifetime = time.Duration(d.varint())
	e.StaleWhileRevalidate = time.Duration(d.varint())
	e.StaleIfError = time.Duration(d.varint())
	flags := d.byte()
	e.MustRevalidate = flags&flagMustRevalidate != 0
	e.NoCache = flags&flagNoCache != 0
	e.VaryMarker = flags&flagVaryMarker != 0
	e.HitForPass = flags&flagHitForPass != 0
	e.Sliced = flags&flagSliced != 0
	e.ETag = d.string()
	e.LastModified = d.time()
	e.Date = d.time()
	e.Vary = d.strings()
	e.SurrogateKeys = d.strings()
	e.VaryGen = d.uvarint()
	e.Size = d.varint()
	e.SliceSize = d.varint()
	e.SliceGen = d.uvarint()
	e.Tier = httpcache.Tier(d.byte())
	if b[0] >= 2 {
		e.CodingGen = d.uvarint()
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

// decoder reads the codec's primitives; the first error sticks and every
// later read returns a zero value.
type decoder struct {
	b   []byte
	all string // the bytes b started as, as a string: b is a suffix of it
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errCodec}, args...)...)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// count reads a length of things that take at least a byte each, so a
// corrupt count cannot make the decoder allocate more than its input.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if n == 0 {
		return ""
	}
	off := len(d.all) - len(d.b)
	d.b = d.b[n:]
	return d.all[off : off+n]
}

func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail("nanoseconds %d out of range", nsec)
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	}
	d.fail("bad time tag")
	return time.Time{}
}
