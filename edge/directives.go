package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// reqDirectives are the client's request directives (RFC 9111 §5.2.1) as
// this cache honours them.
type reqDirectives struct {
	cc httpcache.Directives
	// noCache: the client wants an end-to-end revalidation (no-cache, or
	// Pragma: no-cache without Cache-Control).
	noCache bool
}

// requestDirectives reads r's directives, or, for a site that ignores
// them, only only-if-cached: it keeps the client from the origin rather
// than sending it there, and tiers use it to ask a shield for its cache
// only.
func requestDirectives(r *http.Request, s *Site) reqDirectives {
	cc := httpcache.ParseCacheControl(r.Header["Cache-Control"])
	if s.Policy.IgnoreRequestDirectives {
		only := cc.OnlyIfCached
		cc = httpcache.ParseCacheControl(nil)
		cc.OnlyIfCached = only
		return reqDirectives{cc: cc}
	}
	return reqDirectives{cc: cc, noCache: cc.NoCache || (!cc.Present() && hasToken(r.Header["Pragma"], "no-cache"))}
}

// forward is the Cache-Control a fill sends upstream so that the caches
// there apply the test this cache applied to its stored copy: no-cache,
// else max-age and min-fresh. max-stale is not sent: it only relaxes the
// test, and the answer of a fill is shared with requests that did not ask
// for stale content.
func (d reqDirectives) forward() string {
	if d.noCache {
		return "no-cache"
	}
	var parts []string
	if d.cc.MaxAge >= 0 {
		parts = append(parts, "max-age="+seconds(d.cc.MaxAge))
	}
	if d.cc.MinFresh >= 0 {
		parts = append(parts, "min-fresh="+seconds(d.cc.MinFresh))
	}
	return strings.Join(parts, ", ")
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// flightKey is the key a fill for key runs under. A fill that forwards
// directives runs under its own key: a request with directives must not
// join an ordinary fill, which an upstream cache may answer from a copy
// these directives refuse. It also registers under key when no ordinary
// fill runs (see serveFill): its answer is at least as fresh as an
// ordinary request needs.
func flightKey(key, forward string) string {
	if forward == "" {
		return key
	}
	return key + "\x00cc=" + forward
}

// fwdReason is the Cache-Status fwd of a fill that revalidates stored
// (RFC 9211 §2.2): "request" when the stored response was fresh and only
// the request's directives kept it from being used, else "stale".
func fwdReason(stored *httpcache.Entry, now time.Time) string {
	if stored != nil && !stored.NoCache && stored.TTL(now) > 0 {
		return "request"
	}
	return "stale"
}
