package httpcache

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestParseVary(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want []string
	}{
		{name: "none", h: hdr(), want: nil},
		{name: "empty", h: hdr("Vary", ""), want: nil},
		{name: "only separators", h: hdr("Vary", " , ,,"), want: nil},
		{name: "one", h: hdr("Vary", "Accept-Encoding"), want: []string{"Accept-Encoding"}},
		{name: "canonical case", h: hdr("Vary", "x-custom-HEADER"), want: []string{"X-Custom-Header"}},
		{name: "duplicates in any case", h: hdr("Vary", "accept-encoding, ACCEPT-ENCODING,Accept-Encoding"),
			want: []string{"Accept-Encoding"}},
		{name: "sorted", h: hdr("Vary", "User-Agent, Accept-Language, Accept"),
			want: []string{"Accept", "Accept-Language", "User-Agent"}},
		{name: "multiple lines", h: hdr("Vary", "Origin", "Vary", "accept, Origin", "Vary", ""),
			want: []string{"Accept", "Origin"}},
		{name: "spaces", h: hdr("Vary", "  Accept ,\tOrigin  "), want: []string{"Accept", "Origin"}},
		{name: "star kept", h: hdr("Vary", "*"), want: []string{"*"}},
		{name: "star in a list", h: hdr("Vary", "Accept, *"), want: []string{"*", "Accept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseVary(tt.h)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("ParseVary(%v) = %#v, want %#v", tt.h, got, tt.want)
			}
		})
	}
}

func TestVaryKey(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		h     http.Header
		want  string
	}{
		{name: "no names", names: nil, h: hdr("Accept", "x"), want: ""},
		{name: "one field", names: []string{"Accept-Language"}, h: hdr("Accept-Language", "en"), want: "Accept-Language=en\n"},
		{name: "absent field", names: []string{"Accept", "Origin"}, h: hdr("Origin", "https://a"), want: "Accept=\nOrigin=https://a\n"},
		{name: "accept-encoding folded", names: []string{"Accept-Encoding"}, h: hdr("Accept-Encoding", "gzip, deflate, br;q=0.9"),
			want: "Accept-Encoding=br, gzip\n"},
		{name: "lines joined", names: []string{"Accept-Language"}, h: hdr("Accept-Language", "en", "Accept-Language", " fr "),
			want: "Accept-Language=en, fr\n"},
		{name: "unnamed fields ignored", names: []string{"Origin"}, h: hdr("Origin", "o", "Cookie", "c=1"), want: "Origin=o\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VaryKey(tt.names, tt.h); got != tt.want {
				t.Errorf("VaryKey(%q, %v) = %q, want %q", tt.names, tt.h, got, tt.want)
			}
		})
	}

	// Requests that differ only in spelling share a variant; requests that
	// differ in a varied field do not.
	names := []string{"Accept-Encoding", "Accept-Language"}
	same := []http.Header{
		hdr("Accept-Language", "en,fr", "Accept-Encoding", "gzip, br"),
		hdr("Accept-Language", "en, fr", "Accept-Encoding", "br;q=0.5,x-gzip"),
		hdr("Accept-Language", "en", "Accept-Language", "fr", "Accept-Encoding", "br", "Accept-Encoding", "gzip"),
	}
	for _, h := range same[1:] {
		if a, b := VaryKey(names, same[0]), VaryKey(names, h); a != b {
			t.Errorf("VaryKey differs for equivalent requests: %q vs %q", a, b)
		}
	}
	differ := []http.Header{
		hdr("Accept-Language", "en"),
		hdr("Accept-Language", "fr"),
		hdr("Accept-Language", "en", "Accept-Encoding", "gzip"),
		hdr("Accept-Language", "en", "Accept-Encoding", "br"),
		hdr("Accept-Language", "en", "Accept-Encoding", "br, gzip"),
	}
	seen := map[string]int{}
	for i, h := range differ {
		k := VaryKey(names, h)
		if j, ok := seen[k]; ok {
			t.Errorf("requests %d and %d share VaryKey %q", j, i, k)
		}
		seen[k] = i
	}
}

func TestNormalizeField(t *testing.T) {
	tests := []struct {
		name   string
		field  string
		values []string
		want   string
	}{
		{name: "nil", field: "Accept-Language", values: nil, want: ""},
		{name: "empty", field: "Accept-Language", values: []string{"", " "}, want: ""},
		{name: "one", field: "Origin", values: []string{"https://a.example"}, want: "https://a.example"},
		{name: "trimmed and joined", field: "Accept-Language", values: []string{" en ,fr,, de "}, want: "en, fr, de"},
		{name: "lines", field: "Accept-Language", values: []string{"en", "", "fr, de"}, want: "en, fr, de"},
		{name: "case kept", field: "Accept", values: []string{"Text/HTML"}, want: "Text/HTML"},
		{name: "order kept", field: "Accept-Language", values: []string{"fr, en"}, want: "fr, en"},
		{name: "accept-encoding delegated", field: "Accept-Encoding", values: []string{"gzip;q=0.5, br, zstd"}, want: "br, gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeField(tt.field, tt.values); got != tt.want {
				t.Errorf("NormalizeField(%q, %q) = %q, want %q", tt.field, tt.values, got, tt.want)
			}
		})
	}
}

func TestNormalizeAcceptEncoding(t *testing.T) {
	tests := []struct {
		values []string
		want   string
	}{
		{values: nil, want: ""},
		{values: []string{""}, want: ""},
		{values: []string{"identity"}, want: ""},
		{values: []string{"deflate, compress, zstd"}, want: ""},
		{values: []string{"gzip"}, want: "gzip"},
		{values: []string{"GZip"}, want: "gzip"},
		{values: []string{"x-gzip"}, want: "gzip"},
		{values: []string{"br"}, want: "br"},
		{values: []string{" BR "}, want: "br"},
		{values: []string{"zstd, br"}, want: "br"},
		{values: []string{"br, gzip"}, want: "br, gzip"},
		{values: []string{"gzip, br"}, want: "br, gzip"},
		{values: []string{"gzip,br"}, want: "br, gzip"},
		{values: []string{"gzip", "br"}, want: "br, gzip"},
		{values: []string{"x-gzip, deflate, br;q=0.1"}, want: "br, gzip"},
		{values: []string{"*"}, want: "br, gzip"},
		{values: []string{"identity, *"}, want: "br, gzip"},

		// q=0 refuses a coding, in any spelling of zero.
		{values: []string{"gzip;q=0"}, want: ""},
		{values: []string{"gzip;q=0.0"}, want: ""},
		{values: []string{"gzip; q=0.000"}, want: ""},
		{values: []string{"gzip ; Q = 0"}, want: ""},
		{values: []string{"gzip;level=9;q=0"}, want: ""},
		{values: []string{"br;q=0, gzip"}, want: "gzip"},
		{values: []string{"br, gzip;q=0"}, want: "br"},
		{values: []string{"*;q=0"}, want: ""},
		{values: []string{"gzip, *;q=0"}, want: "gzip"},
		{values: []string{"gzip;q=0.001"}, want: "gzip"},
		{values: []string{"gzip;q=1.0, br;q=1"}, want: "br, gzip"},

		// Garbage neither panics nor invents a coding.
		{values: []string{";;;,,,=="}, want: ""},
		{values: []string{"q=0"}, want: ""},
		{values: []string{"gzip;q="}, want: "gzip"},
		{values: []string{"gzip;q=abc"}, want: "gzip"},
		{values: []string{"gzip;=0"}, want: "gzip"},
		{values: []string{"gzipbr, g zip, brotli"}, want: ""},
		{values: []string{"\x00br\xff"}, want: ""},

		// "*" stands for the codings not listed (RFC 9110 §12.5.3): it must
		// not bring back one the client refused.
		{values: []string{"gzip;q=0, *"}, want: "br"},
		{values: []string{"*, gzip;q=0"}, want: "br"},
		{values: []string{"br;q=0, *"}, want: "gzip"},
		{values: []string{"x-gzip;q=0", "*"}, want: "br"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.values, "|"), func(t *testing.T) {
			if got := NormalizeAcceptEncoding(tt.values); got != tt.want {
				t.Errorf("NormalizeAcceptEncoding(%q) = %q, want %q", tt.values, got, tt.want)
			}
		})
	}
}

// The folded value does not depend on the order of the elements.
func TestNormalizeAcceptEncodingOrder(t *testing.T) {
	elems := []string{"br;q=0.8", "x-gzip", "deflate", "identity;q=0", "zstd;q=0"}
	want := "br, gzip"
	var permute func(k int)
	permute = func(k int) {
		if k == len(elems) {
			for _, values := range [][]string{{strings.Join(elems, ", ")}, slices.Clone(elems)} {
				if got := NormalizeAcceptEncoding(values); got != want {
					t.Errorf("NormalizeAcceptEncoding(%q) = %q, want %q", values, got, want)
				}
			}
			return
		}
		for i := k; i < len(elems); i++ {
			elems[k], elems[i] = elems[i], elems[k]
			permute(k + 1)
			elems[k], elems[i] = elems[i], elems[k]
		}
	}
	permute(0)
}
