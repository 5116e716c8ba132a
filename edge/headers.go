package edge

import (
	"net/http"
	"strings"
)

// hopHeaders are connection-level fields (RFC 9110 §7.6.1) that a proxy
// never forwards, plus Alt-Svc: an upstream must not advertise itself
// through the CDN.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Alt-Svc",
}

// spoofableHeaders are request fields a client could use to make the
// origin build a response for something else than the cache key says
// (host, scheme and URL overrides, method overrides) or to claim another
// address. They are dropped from client requests unless a site keys on
// them; the forwarding fields among them are then set by the edge itself.
// A scheme override is the classic poisoning: a framework that forces
// HTTPS answers "X-Forwarded-Scheme: http" with a cacheable 301.
var spoofableHeaders = []string{
	"X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Server",
	"X-Forwarded-Prefix", "X-Original-Url", "X-Rewrite-Url",
	"X-Forwarded-Uri", "X-Envoy-Original-Path",
	"X-Forwarded-Scheme", "X-Forwarded-Ssl", "Front-End-Https", "X-Url-Scheme",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Real-Ip", "X-Original-Host", "X-Host",
	"True-Client-Ip", "X-Client-Ip", "Cf-Connecting-Ip",
}

// conditionalHeaders are dropped from fills: a fill fetches the whole
// representation for everyone, and the edge answers the client's
// conditions itself.
var conditionalHeaders = []string{
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
	"If-Range", "Range",
}

// targetedHeaders are meant for CDN caches only and not passed to clients;
// the surrogate-key fields (httpcache.TagFields) are not either, unless the
// site says so (Site.SendSurrogateKeys).
var targetedHeaders = []string{"Cdn-Cache-Control", "Surrogate-Control"}

// removeHopHeaders deletes hop-by-hop fields, including those the
// Connection field names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

func deleteAll(h http.Header, keys []string) {
	for _, k := range keys {
		delete(h, k)
	}
}
