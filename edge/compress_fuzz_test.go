package edge

import (
	"slices"
	"testing"
)

// FuzzChooseCoding: any Accept-Encoding picks one of the offered codings
// or none, never one the client weighted 0, and never panics.
func FuzzChooseCoding(f *testing.F) {
	for _, s := range []string{"br", "gzip, deflate, br;q=0.5", "*;q=0.1, br;q=0", "br;q=1.5", ";;;,,=q", "GZIP;Q=0.3"} {
		f.Add(s)
	}
	offered := []string{"br", "zstd", "gzip"}
	f.Fuzz(func(t *testing.T, ae string) {
		got := chooseCoding([]string{ae}, offered)
		if got == "" {
			return
		}
		if !slices.Contains(offered, got) {
			t.Fatalf("%q chose %q, not offered", ae, got)
		}
		if q := codingQ([]string{ae}, got); q <= 0 || q > 1 {
			t.Fatalf("%q chose %q with weight %v", ae, got, q)
		}
	})
}
