package store

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// t0 is a fixed time without a monotonic reading, in UTC, as the codec
// returns times.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// fullEntry sets every exported field of Entry but File to a value that
// is not zero.
func fullEntry(body []byte) *httpcache.Entry {
	return &httpcache.Entry{
		Status: http.StatusPartialContent,
		Header: http.Header{
			"Content-Type":  {"text/css; charset=utf-8"},
			"Cache-Control": {"max-age=60", "s-maxage=300"},
			"Set-Cookie2":   {""},
			"X-Binary":      {"\x00\xff\r\n"},
		},
		Body:                 body,
		ResponseTime:         t0,
		InitialAge:           7 * time.Second,
		Lifetime:             time.Hour,
		StaleWhileRevalidate: 30 * time.Second,
		StaleIfError:         -10 * time.Minute,
		MustRevalidate:       true,
		NoCache:              true,
		ETag:                 `W/"v1"`,
		LastModified:         time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC), // before 1970
		Date:                 t0.Add(-time.Second),
		Vary:                 []string{"Accept-Encoding", "Origin"},
		SurrogateKeys:        []string{"css", "site-1", "ünïcode"},
		VaryMarker:           true,
		VaryGen:              1<<64 - 1,
		CodingGen:            1<<63 + 5,
		HitForPass:           true,
		Sliced:               true,
		Size:                 1 << 40,
		SliceSize:            1 << 20,
		SliceGen:             7,
		Tier:                 httpcache.TierDisk | httpcache.TierMemory,
	}
}

// metaOf is e without its body, as the codec keeps it.
func metaOf(e *httpcache.Entry) *httpcache.Entry {
	c := *e
	c.Body, c.File = nil, nil
	c.EnableMemo() // what hits memoized is not metadata
	return &c
}

func roundTrip(t *testing.T, e *httpcache.Entry) *httpcache.Entry {
	t.Helper()
	b := encodeEntry(nil, e)
	got, err := decodeEntry(b)
	if err != nil {
		t.Fatalf("decodeEntry(encodeEntry(%+v)): %v", e, err)
	}
	got.EnableMemo() // as the disk tier does; compare with metaOf
	return got
}

func TestCodecRoundTrip(t *testing.T) {
	for name, e := range map[string]*httpcache.Entry{
		"full":  fullEntry([]byte("body")),
		"zero":  {},
		"small": bodyEntry(3),
	} {
		t.Run(name, func(t *testing.T) {
			want := metaOf(e)
			if got := roundTrip(t, e); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// A field the codec does not know is lost on disk. Every field of Entry
// but Body and File must survive alone, so a field added to Entry fails
// here until the codec writes it.
func TestCodecCoversEveryField(t *testing.T) {
	full := reflect.ValueOf(fullEntry(nil)).Elem()
	typ := full.Type()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || f.Name == "Body" || f.Name == "File" {
			continue
		}
		if full.Field(i).IsZero() {
			t.Errorf("fullEntry leaves %s zero; set it, and encode it in codec.go", f.Name)
			continue
		}
		var one httpcache.Entry
		reflect.ValueOf(&one).Elem().Field(i).Set(full.Field(i))
		if got := roundTrip(t, &one); !reflect.DeepEqual(got, metaOf(&one)) {
			t.Errorf("%s is lost by the codec: got %+v, want %v", f.Name, reflect.ValueOf(got).Elem().Field(i), full.Field(i))
		}
	}
}

// Age after a restart is computed from the persisted times alone.
func TestCodecKeepsAge(t *testing.T) {
	e := fullEntry(nil)
	e.ResponseTime = time.Now() // with a monotonic reading, as in production
	now := e.ResponseTime.Add(90 * time.Second)
	got := roundTrip(t, e)
	if a, b := e.Age(now), got.Age(now); a != b {
		t.Errorf("Age after decoding = %v, want %v", b, a)
	}
	if !got.ResponseTime.Equal(e.ResponseTime) {
		t.Errorf("ResponseTime = %v, want %v", got.ResponseTime, e.ResponseTime)
	}
}

func TestCodecDeterministic(t *testing.T) {
	e := fullEntry(nil)
	a := encodeEntry(nil, e)
	for range 20 { // header order comes from a map
		if b := encodeEntry(nil, e); !bytes.Equal(a, b) {
			t.Fatalf("two encodings differ:\n%x\n%x", a, b)
		}
	}
}

func TestCodecRejectsDamage(t *testing.T) {
	good := encodeEntry(nil, fullEntry(nil))
	for n := range len(good) {
		if _, err := decodeEntry(good[:n]); !errors.Is(err, errCodec) {
			t.Errorf("decoding the first %d of %d bytes: err = %v, want errCodec", n, len(good), err)
		}
	}
	if _, err := decodeEntry(append(bytes.Clone(good), 0)); !errors.Is(err, errCodec) {
		t.Errorf("trailing byte: err = %v", err)
	}
	other := bytes.Clone(good)
	other[0] = codecVersion + 1
	if _, err := decodeEntry(other); !errors.Is(err, errCodec) {
		t.Errorf("unknown version: err = %v", err)
	}
}

// Records of version 1, written before CodingGen, are read as entries
// without it; the rest of the entry is the same.
func TestCodecReadsVersion1(t *testing.T) {
	e := fullEntry(nil)
	e.CodingGen = 0
	b := encodeEntry(nil, e)
	v1 := bytes.Clone(b[:len(b)-1]) // CodingGen 0 is its last byte
	v1[0] = 1
	got, err := decodeEntry(v1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(metaOf(got), metaOf(roundTrip(t, e))) {
		t.Errorf("version 1 record decoded as %+v", got)
	}
	if _, err := decodeEntry(v1[:len(v1)-1]); !errors.Is(err, errCodec) {
		t.Errorf("cut version 1 record: err = %v", err)
	}
}

// FuzzDecodeEntry checks that no input makes the decoder panic or
// allocate without bound, and that what decodes encodes to the same entry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(nil, fullEntry(nil)))
	f.Add(encodeEntry(nil, &httpcache.Entry{}))
	f.Add([]byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again := roundTrip(t, e)
		if !reflect.DeepEqual(metaOf(again), metaOf(e)) {
			t.Errorf("re-encoding changed the entry:\n got %+v\nwant %+v", again, e)
		}
	})
}
