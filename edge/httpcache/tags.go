package httpcache

import (
	"net/http"
	"slices"
	"strings"
)

// TagFields are the response fields that carry surrogate keys: Fastly's
// Surrogate-Key (space separated) and Cloudflare's Cache-Tag (comma
// separated).
var TagFields = []string{"Surrogate-Key", "Cache-Tag"}

// ParseSurrogateKeys returns the surrogate keys of a response, from
// Surrogate-Key and Cache-Tag, in the order given and without duplicates;
// nil when there are none.
func ParseSurrogateKeys(h http.Header) []string {
	var keys []string
	for _, line := range h["Surrogate-Key"] {
		keys = append(keys, strings.Fields(line)...)
	}
	for _, line := range h["Cache-Tag"] {
		for _, t := range strings.Split(line, ",") {
			if t = strings.TrimSpace(t); t != "" {
				keys = append(keys, t)
			}
		}
	}
	if len(keys) < 2 {
		return keys
	}
	out := keys[:0]
	for i, k := range keys {
		if !slices.Contains(keys[:i], k) {
			out = append(out, k)
		}
	}
	return out
}
