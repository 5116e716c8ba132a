package httpcache

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestParseSurrogateKeys(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want []string
	}{
		{"none", http.Header{}, nil},
		{"surrogate-key spaces", http.Header{"Surrogate-Key": {" a  b\tc "}}, []string{"a", "b", "c"}},
		{"cache-tag commas", http.Header{"Cache-Tag": {"x, y ,,z"}}, []string{"x", "y", "z"}},
		{"both, several lines, duplicates", http.Header{
			"Surrogate-Key": {"a b", "c a"},
			"Cache-Tag":     {"b,d", "d"},
		}, []string{"a", "b", "c", "d"}},
		// A Cache-Tag may hold spaces inside a tag; commas separate.
		{"cache-tag with inner space", http.Header{"Cache-Tag": {"my tag"}}, []string{"my tag"}},
	}
	for _, tt := range tests {
		if got := ParseSurrogateKeys(tt.h); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ParseSurrogateKeys = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A 304 without tag fields keeps the stored keys: at an edge the stored
// header never had them, and the 304 leaves them as they were.
func TestRevalidatedKeepsSurrogateKeys(t *testing.T) {
	e := NewEntry(http.StatusOK, hdr("Cache-Tag", "a,b", "ETag", `"1"`), nil, Decision{Store: true, Lifetime: time.Minute}, t0, t0)
	e.Header.Del("Cache-Tag") // what a client-facing edge stores
	got := e.Revalidated(hdr("ETag", `"1"`), Decision{Store: true, Lifetime: time.Minute}, t0, t0)
	if !slices.Equal(got.SurrogateKeys, []string{"a", "b"}) {
		t.Errorf("SurrogateKeys after a 304 without tags = %q, want [a b]", got.SurrogateKeys)
	}
	got = e.Revalidated(hdr("Surrogate-Key", "c"), Decision{Store: true, Lifetime: time.Minute}, t0, t0)
	if !slices.Equal(got.SurrogateKeys, []string{"c"}) {
		t.Errorf("SurrogateKeys after a 304 with new tags = %q, want [c]", got.SurrogateKeys)
	}
}
