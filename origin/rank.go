package origin

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Rank orders ups for key by rendezvous (highest random weight) hashing:
// each upstream scores hash(key, upstream name) and the highest comes
// first. Every node computes the same order for the same key and names,
// and removing an upstream moves only the keys it was first for (each to
// its second choice); adding an Nth takes about 1/N of the keys, and only
// for itself. All of ups are returned, available or not, so a caller can
// skip the unavailable ones and keep the order; ups is not modified.
func Rank(key string, ups []*Upstream) []*Upstream {
	return rankHash(xxhash.Sum64String(key), ups)
}

func rankHash(kh uint64, ups []*Upstream) []*Upstream {
	type scored struct {
		u *Upstream
		s uint64
	}
	ss := make([]scored, len(ups))
	for i, u := range ups {
		nh := u.nameHash
		if nh == 0 {
			nh = xxhash.Sum64String(u.Name) // an Upstream not built by NewPool
		}
		ss[i] = scored{u, mix64(kh ^ nh)}
	}
	slices.SortFunc(ss, func(a, b scored) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return strings.Compare(a.u.Name, b.u.Name)
	})
	out := make([]*Upstream, len(ss))
	for i := range ss {
		out[i] = ss[i].u
	}
	return out
}

// mix64 is the SplitMix64 finalizer: it spreads the combined key and name
// hashes so that each upstream's score is an independent-looking draw.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// RequestKey is the key a Router ranks shields by: the lower-cased Host
// (req.Host, else the URL's), the escaped path, "?" and the raw query.
// Range and other fields are not part of it, so every slice of an object
// goes to the same shield.
func RequestKey(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	return strings.ToLower(host) + req.URL.EscapedPath() + "?" + req.URL.RawQuery
}
