package httpcache

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// basePolicy has a heuristic and a default TTL but no stale defaults, so
// rows that are not about stale windows get 0 for both.
var basePolicy = Policy{DefaultTTL: 10 * time.Minute, HeuristicFraction: 0.1, HeuristicMax: 24 * time.Hour}

// staleDefaults adds policy-wide stale windows to basePolicy.
var staleDefaults = Policy{DefaultTTL: 10 * time.Minute, HeuristicFraction: 0.1, HeuristicMax: 24 * time.Hour,
	StaleWhileRevalidate: 30 * time.Second, StaleIfError: 5 * time.Minute}

// lm10h is a Last-Modified 10 hours before t0: a heuristic of 1h at 0.1.
var lm10h = httpDate(t0.Add(-10 * time.Hour))

func TestDecideStatus(t *testing.T) {
	heuristic := []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
	explicitOnly := []int{201, 202, 302, 303, 307, 400, 401, 403, 409, 429, 500, 502, 503, 504, 599, 600}
	never := []int{0, -1, 100, 101, 103, 199, 206, 304}

	type variant struct {
		name string
		resp http.Header
	}
	variants := []variant{
		// Only a heuristic could make these fresh.
		{"no freshness", hdr("Date", httpDate(t0), "Last-Modified", lm10h)},
		{"max-age", hdr("Date", httpDate(t0), "Last-Modified", lm10h, "Cache-Control", "max-age=60")},
		{"expires", hdr("Date", httpDate(t0), "Last-Modified", lm10h, "Expires", httpDate(t0.Add(2*time.Minute)))},
		// public makes any status heuristically cacheable (RFC 9111 §4.2.2).
		{"public", hdr("Date", httpDate(t0), "Last-Modified", lm10h, "Cache-Control", "public")},
	}
	stored := map[string]Decision{
		"no freshness": {Store: true, Lifetime: time.Hour},
		"max-age":      {Store: true, Lifetime: time.Minute},
		"expires":      {Store: true, Lifetime: 2 * time.Minute},
		"public":       {Store: true, Lifetime: time.Hour},
	}
	check := func(codes []int, want func(v variant) Decision) {
		for _, code := range codes {
			for _, v := range variants {
				t.Run(fmt.Sprintf("%d/%s", code, v.name), func(t *testing.T) {
					got := basePolicy.Decide(http.Header{}, code, v.resp.Clone(), t0)
					if w := want(v); got != w {
						t.Errorf("Decide(%d, %v)\n got %+v\nwant %+v", code, v.resp, got, w)
					}
				})
			}
		}
	}
	check(heuristic, func(v variant) Decision { return stored[v.name] })
	check(explicitOnly, func(v variant) Decision {
		if v.name == "no freshness" {
			return Decision{Reason: "no-freshness"}
		}
		return stored[v.name]
	})
	check(never, func(variant) Decision { return Decision{Reason: "status"} })
}

func TestDecide(t *testing.T) {
	date := httpDate(t0)
	tests := []struct {
		name   string
		policy *Policy // nil: basePolicy
		req    http.Header
		status int // 0: 200
		resp   http.Header
		want   Decision
	}{
		// Refusals.
		{name: "no-store", resp: hdr("Cache-Control", "no-store, max-age=60"), want: Decision{Reason: "no-store"}},
		{name: "no-store on a second line", resp: hdr("Cache-Control", "max-age=60", "Cache-Control", "no-store"),
			want: Decision{Reason: "no-store"}},
		{name: "private", resp: hdr("Cache-Control", "private, max-age=60"), want: Decision{Reason: "private"}},
		{name: "qualified private", resp: hdr("Cache-Control", `private="Set-Cookie", max-age=60`), want: Decision{Reason: "private"}},
		{name: "public beside private", resp: hdr("Cache-Control", "public, private, max-age=60"), want: Decision{Reason: "private"}},
		{name: "request no-store", req: hdr("Cache-Control", "no-store"), resp: hdr("Cache-Control", "max-age=60"),
			want: Decision{Reason: "request-no-store"}},
		{name: "request no-cache still stores", req: hdr("Cache-Control", "no-cache"), resp: hdr("Cache-Control", "max-age=60"),
			want: Decision{Store: true, Lifetime: time.Minute}},

		// Authorization (RFC 9111 §3.5).
		{name: "authorization with max-age", req: hdr("Authorization", "Bearer x"), resp: hdr("Cache-Control", "max-age=60"),
			want: Decision{Reason: "authorization"}},
		{name: "authorization without directives", req: hdr("Authorization", "Bearer x"), resp: hdr("Date", date, "Last-Modified", lm10h),
			want: Decision{Reason: "authorization"}},
		{name: "authorization with public", req: hdr("Authorization", "Bearer x"), resp: hdr("Cache-Control", "public, max-age=60"),
			want: Decision{Store: true, Lifetime: time.Minute}},
		{name: "authorization with s-maxage", req: hdr("Authorization", "Bearer x"), resp: hdr("Cache-Control", "s-maxage=60"),
			want: Decision{Store: true, Lifetime: time.Minute, MustRevalidate: true}},
		{name: "authorization with must-revalidate", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cache-Control", "must-revalidate, max-age=60"),
			want: Decision{Store: true, Lifetime: time.Minute, MustRevalidate: true}},
		{name: "authorization with proxy-revalidate", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cache-Control", "proxy-revalidate, max-age=60"), want: Decision{Reason: "authorization"}},
		{name: "authorization with targeted public", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cdn-Cache-Control", "public, max-age=60", "Cache-Control", "no-store"),
			want: Decision{Store: true, Lifetime: time.Minute}},

		// Vary.
		{name: "vary star", resp: hdr("Cache-Control", "max-age=60", "Vary", "*"), want: Decision{Reason: "vary-star"}},
		{name: "vary star in a list", resp: hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding, *"),
			want: Decision{Reason: "vary-star"}},
		{name: "vary star on a second line", resp: hdr("Cache-Control", "max-age=60", "Vary", "Accept", "Vary", "*"),
			want: Decision{Reason: "vary-star"}},
		{name: "vary field", resp: hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"),
			want: Decision{Store: true, Lifetime: time.Minute}},

		// Set-Cookie.
		{name: "set-cookie passes", resp: hdr("Cache-Control", "max-age=60", "Set-Cookie", "a=b"), want: Decision{Reason: "set-cookie"}},
		{name: "set-cookie stored stripped", policy: &Policy{StoreSetCookie: true},
			resp: hdr("Cache-Control", "max-age=60", "Set-Cookie", "a=b"),
			want: Decision{Store: true, Lifetime: time.Minute, StripSetCookie: true}},
		{name: "set-cookie with no-store", policy: &Policy{StoreSetCookie: true},
			resp: hdr("Cache-Control", "no-store", "Set-Cookie", "a=b"), want: Decision{Reason: "no-store"}},

		// Targeted fields (RFC 9213): CDN-Cache-Control > Surrogate-Control > Cache-Control.
		{name: "cdn-cache-control wins", resp: hdr("Cdn-Cache-Control", "max-age=10", "Surrogate-Control", "max-age=20", "Cache-Control", "max-age=30"),
			want: Decision{Store: true, Lifetime: 10 * time.Second}},
		{name: "surrogate-control beats cache-control", resp: hdr("Surrogate-Control", "max-age=20", "Cache-Control", "max-age=30"),
			want: Decision{Store: true, Lifetime: 20 * time.Second}},
		{name: "cache-control alone", resp: hdr("Cache-Control", "max-age=30"), want: Decision{Store: true, Lifetime: 30 * time.Second}},
		{name: "targeted no-store beats cache-control", resp: hdr("Cdn-Cache-Control", "no-store", "Cache-Control", "max-age=30"),
			want: Decision{Reason: "no-store"}},
		{name: "targeted overrides cache-control no-store", resp: hdr("Cdn-Cache-Control", "max-age=10", "Cache-Control", "no-store"),
			want: Decision{Store: true, Lifetime: 10 * time.Second}},
		{name: "targeted overrides cache-control private", resp: hdr("Surrogate-Control", "max-age=10", "Cache-Control", "private"),
			want: Decision{Store: true, Lifetime: 10 * time.Second}},
		{name: "empty cdn-cache-control is skipped", resp: hdr("Cdn-Cache-Control", "", "Surrogate-Control", "max-age=20", "Cache-Control", "max-age=30"),
			want: Decision{Store: true, Lifetime: 20 * time.Second}},
		{name: "directive-less targeted is skipped", resp: hdr("Cdn-Cache-Control", ", ,", "Cache-Control", "max-age=30"),
			want: Decision{Store: true, Lifetime: 30 * time.Second}},
		{name: "targeted without lifetime ignores cache-control max-age", resp: hdr("Cdn-Cache-Control", "public", "Cache-Control", "max-age=30"),
			want: Decision{Store: true, Lifetime: 10 * time.Minute}},
		{name: "targeted present ignores Expires", resp: hdr("Date", date, "Last-Modified", lm10h,
			"Cdn-Cache-Control", "public", "Expires", httpDate(t0.Add(5*time.Minute))),
			want: Decision{Store: true, Lifetime: time.Hour}},
		{name: "no targeted uses Expires", resp: hdr("Date", date, "Last-Modified", lm10h,
			"Expires", httpDate(t0.Add(5*time.Minute))),
			want: Decision{Store: true, Lifetime: 5 * time.Minute}},
		{name: "targeted must-revalidate", resp: hdr("Cdn-Cache-Control", "max-age=10, must-revalidate", "Cache-Control", "max-age=30"),
			want: Decision{Store: true, Lifetime: 10 * time.Second, MustRevalidate: true}},

		// Lifetime: s-maxage > max-age > Expires > heuristic.
		{name: "s-maxage first", resp: hdr("Date", date, "Last-Modified", lm10h, "Cache-Control", "s-maxage=10, max-age=20",
			"Expires", httpDate(t0.Add(30*time.Second))),
			want: Decision{Store: true, Lifetime: 10 * time.Second, MustRevalidate: true}},
		{name: "max-age over Expires", resp: hdr("Date", date, "Last-Modified", lm10h, "Cache-Control", "max-age=20",
			"Expires", httpDate(t0.Add(30*time.Second))),
			want: Decision{Store: true, Lifetime: 20 * time.Second}},
		{name: "max-age=0 over Expires", resp: hdr("Date", date, "ETag", `"v"`, "Cache-Control", "max-age=0",
			"Expires", httpDate(t0.Add(time.Hour))),
			want: Decision{Store: true}},
		{name: "s-maxage=0 over max-age", resp: hdr("ETag", `"v"`, "Cache-Control", "s-maxage=0, max-age=60"),
			want: Decision{Store: true, MustRevalidate: true}},
		{name: "Expires over heuristic", resp: hdr("Date", date, "Last-Modified", lm10h, "Expires", httpDate(t0.Add(30*time.Second))),
			want: Decision{Store: true, Lifetime: 30 * time.Second}},
		{name: "Expires counts from Date", resp: hdr("Date", httpDate(t0.Add(-10*time.Second)), "Expires", httpDate(t0.Add(20*time.Second))),
			want: Decision{Store: true, Lifetime: 30 * time.Second}},
		{name: "Expires without Date counts from response time", resp: hdr("Expires", httpDate(t0.Add(20*time.Second))),
			want: Decision{Store: true, Lifetime: 20 * time.Second}},
		{name: "Expires in the past", resp: hdr("Date", date, "ETag", `"v"`, "Expires", httpDate(t0.Add(-time.Hour))),
			want: Decision{Store: true}},
		{name: "Expires equal to Date", resp: hdr("Date", date, "ETag", `"v"`, "Expires", date),
			want: Decision{Store: true}},
		{name: "invalid Expires is expired", resp: hdr("Date", date, "ETag", `"v"`, "Expires", "0"),
			want: Decision{Store: true}},
		{name: "empty Expires is expired", resp: hdr("Date", date, "Last-Modified", lm10h, "Expires", ""),
			want: Decision{Store: true}},
		{name: "invalid Expires without validator", resp: hdr("Date", date, "Expires", "-1"),
			want: Decision{Reason: "stale-no-validator"}},
		// Expires is one strict HTTP-date (RFC 9110 §5.6.7, RFC 9111 §5.3).
		{name: "Expires zone in lower case", resp: hdr("Date", date, "Expires", "Thu, 26 Nov 2026 12:05:00 gmt"),
			want: Decision{Store: true, Lifetime: 5 * time.Minute}},
		{name: "Expires in RFC 850 form", resp: hdr("Date", date, "Expires", "Thursday, 26-Nov-26 12:05:00 GMT"),
			want: Decision{Store: true, Lifetime: 5 * time.Minute}},
		{name: "Expires in asctime form", resp: hdr("Date", date, "Expires", "Thu Nov 26 12:05:00 2026"),
			want: Decision{Store: true, Lifetime: 5 * time.Minute}},
		{name: "Expires with a run of spaces is expired", resp: hdr("Date", date, "ETag", `"v"`, "Expires", "Thu, 26 Nov 2026  12:05:00 GMT"),
			want: Decision{Store: true}},
		{name: "Expires with a one-digit hour is expired", resp: hdr("Date", date, "ETag", `"v"`, "Expires", "Fri, 27 Nov 2026 1:05:00 GMT"),
			want: Decision{Store: true}},
		{name: "Expires with a wrong day name is expired", resp: hdr("Date", date, "ETag", `"v"`, "Expires", "Fri, 26 Nov 2026 12:05:00 GMT"),
			want: Decision{Store: true}},
		{name: "several Expires lines are expired", resp: hdr("Date", date, "ETag", `"v"`,
			"Expires", httpDate(t0.Add(5*time.Minute)), "Expires", httpDate(t0.Add(5*time.Minute))),
			want: Decision{Store: true}},
		{name: "Expires list on one line is expired", resp: hdr("Date", date, "ETag", `"v"`,
			"Expires", httpDate(t0.Add(5*time.Minute))+", "+httpDate(t0.Add(5*time.Minute))),
			want: Decision{Store: true}},
		{name: "lenient Date counts from response time", resp: hdr("Date", "Thu, 26 Nov 2026  11:59:00 GMT", "Expires", httpDate(t0.Add(5*time.Minute))),
			want: Decision{Store: true, Lifetime: 5 * time.Minute}},
		{name: "lenient Last-Modified gives no heuristic", resp: hdr("Date", date, "Last-Modified", "Thu, 26 Nov 2026 2:00:00 GMT"),
			want: Decision{Store: true, Lifetime: 10 * time.Minute}},
		{name: "invalid Expires is explicit on a 302", status: http.StatusFound, resp: hdr("Date", date, "Last-Modified", lm10h, "Expires", "never"),
			want: Decision{Store: true}},

		// Heuristic freshness (RFC 9111 §4.2.2).
		{name: "heuristic fraction", resp: hdr("Date", date, "Last-Modified", lm10h), want: Decision{Store: true, Lifetime: time.Hour}},
		{name: "heuristic counts from Date", resp: hdr("Date", httpDate(t0.Add(-time.Hour)), "Last-Modified", httpDate(t0.Add(-11*time.Hour))),
			want: Decision{Store: true, Lifetime: time.Hour}},
		{name: "heuristic without Date counts from response time", resp: hdr("Last-Modified", lm10h),
			want: Decision{Store: true, Lifetime: time.Hour}},
		{name: "heuristic capped", policy: &Policy{HeuristicFraction: 0.1, HeuristicMax: 30 * time.Minute},
			resp: hdr("Date", date, "Last-Modified", lm10h), want: Decision{Store: true, Lifetime: 30 * time.Minute}},
		{name: "heuristic uncapped", policy: &Policy{HeuristicFraction: 0.1},
			resp: hdr("Date", date, "Last-Modified", httpDate(t0.Add(-1000*time.Hour))), want: Decision{Store: true, Lifetime: 100 * time.Hour}},
		{name: "no Last-Modified uses DefaultTTL", resp: hdr("Date", date), want: Decision{Store: true, Lifetime: 10 * time.Minute}},
		{name: "Last-Modified after Date uses DefaultTTL", resp: hdr("Date", date, "Last-Modified", httpDate(t0.Add(time.Hour))),
			want: Decision{Store: true, Lifetime: 10 * time.Minute}},
		{name: "Last-Modified equal to Date uses DefaultTTL", resp: hdr("Date", date, "Last-Modified", date),
			want: Decision{Store: true, Lifetime: 10 * time.Minute}},
		{name: "invalid Last-Modified uses DefaultTTL", resp: hdr("Date", date, "Last-Modified", "yesterday"),
			want: Decision{Store: true, Lifetime: 10 * time.Minute}},
		{name: "zero fraction uses DefaultTTL", policy: &Policy{DefaultTTL: 7 * time.Second, HeuristicMax: time.Hour},
			resp: hdr("Date", date, "Last-Modified", lm10h), want: Decision{Store: true, Lifetime: 7 * time.Second}},
		{name: "zero policy stores a validator", policy: &Policy{}, resp: hdr("ETag", `"v"`), want: Decision{Store: true}},
		{name: "zero policy refuses without validator", policy: &Policy{}, resp: hdr("Date", date),
			want: Decision{Reason: "stale-no-validator"}},

		// Stale windows and "stale-no-validator".
		{name: "max-age=0 without validator", resp: hdr("Cache-Control", "max-age=0"), want: Decision{Reason: "stale-no-validator"}},
		{name: "max-age=0 with response stale-while-revalidate", resp: hdr("Cache-Control", "max-age=0, stale-while-revalidate=30"),
			want: Decision{Store: true, StaleWhileRevalidate: 30 * time.Second}},
		{name: "max-age=0 with response stale-if-error", resp: hdr("Cache-Control", "max-age=0, stale-if-error=30"),
			want: Decision{Store: true, StaleIfError: 30 * time.Second}},
		{name: "max-age=0 with zero windows", resp: hdr("Cache-Control", "max-age=0, stale-if-error=0, stale-while-revalidate=0"),
			want: Decision{Reason: "stale-no-validator"}},
		{name: "max-age=0 with policy stale defaults", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=0"),
			want: Decision{Store: true, StaleWhileRevalidate: 30 * time.Second, StaleIfError: 5 * time.Minute}},
		{name: "max-age=0 with only the policy's stale-if-error", policy: &Policy{StaleIfError: 6 * time.Hour}, resp: hdr("Cache-Control", "max-age=0"),
			want: Decision{Reason: "stale-no-validator"}},
		{name: "max-age=0 with the policy's stale-if-error and a validator", policy: &Policy{StaleIfError: 6 * time.Hour}, resp: hdr("Cache-Control", "max-age=0", "ETag", `"v"`),
			want: Decision{Store: true, StaleIfError: 6 * time.Hour}},
		{name: "max-age=0 must-revalidate drops policy windows", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=0, must-revalidate"),
			want: Decision{Reason: "stale-no-validator"}},
		{name: "policy stale defaults", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=60"),
			want: Decision{Store: true, Lifetime: time.Minute, StaleWhileRevalidate: 30 * time.Second, StaleIfError: 5 * time.Minute}},
		{name: "response windows beat policy", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=60, stale-while-revalidate=5, stale-if-error=7"),
			want: Decision{Store: true, Lifetime: time.Minute, StaleWhileRevalidate: 5 * time.Second, StaleIfError: 7 * time.Second}},
		{name: "response zero window beats policy", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=60, stale-while-revalidate=0"),
			want: Decision{Store: true, Lifetime: time.Minute, StaleIfError: 5 * time.Minute}},
		{name: "must-revalidate disables windows", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=60, must-revalidate, stale-while-revalidate=5, stale-if-error=7"),
			want: Decision{Store: true, Lifetime: time.Minute, MustRevalidate: true}},
		{name: "proxy-revalidate disables windows", policy: &staleDefaults, resp: hdr("Cache-Control", "max-age=60, proxy-revalidate, stale-if-error=7"),
			want: Decision{Store: true, Lifetime: time.Minute, MustRevalidate: true}},
		{name: "s-maxage disables windows", policy: &staleDefaults, resp: hdr("Cache-Control", "s-maxage=60, stale-if-error=7"),
			want: Decision{Store: true, Lifetime: time.Minute, MustRevalidate: true}},
		{name: "no-cache disables windows", policy: &staleDefaults, resp: hdr("Cache-Control", "no-cache, max-age=60, stale-if-error=7"),
			want: Decision{Store: true, Lifetime: time.Minute, NoCache: true}},
		{name: "qualified no-cache acts unqualified", resp: hdr("Cache-Control", `no-cache="Set-Cookie", max-age=60`),
			want: Decision{Store: true, Lifetime: time.Minute, NoCache: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy
			if tt.policy != nil {
				p = *tt.policy
			}
			req := tt.req
			if req == nil {
				req = http.Header{}
			}
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			resp := tt.resp.Clone()
			got := p.Decide(req, status, resp, t0)
			if got != tt.want {
				t.Errorf("Decide(req %v, %d, %v)\n got %+v\nwant %+v", req, status, tt.resp, got, tt.want)
			}
			if fmt.Sprint(resp) != fmt.Sprint(tt.resp) {
				t.Errorf("Decide changed the response header: %v, was %v", resp, tt.resp)
			}
		})
	}
}

func TestInitialAge(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		req  time.Time // request time; the response arrives at t0
		resp time.Time // zero: t0
		want time.Duration
	}{
		{name: "nothing", h: hdr(), req: t0, want: 0},
		{name: "response delay only", h: hdr(), req: t0.Add(-2 * time.Second), want: 2 * time.Second},
		{name: "Age plus delay", h: hdr("Age", "30"), req: t0.Add(-2 * time.Second), want: 32 * time.Second},
		{name: "apparent age", h: hdr("Date", httpDate(t0.Add(-10*time.Second))), req: t0, want: 10 * time.Second},
		{name: "corrected Age beats apparent", h: hdr("Date", httpDate(t0.Add(-10*time.Second)), "Age", "30"),
			req: t0.Add(-2 * time.Second), want: 32 * time.Second},
		{name: "apparent beats corrected Age", h: hdr("Date", httpDate(t0.Add(-50*time.Second)), "Age", "30"),
			req: t0.Add(-2 * time.Second), want: 50 * time.Second},
		{name: "Date in the future", h: hdr("Date", httpDate(t0.Add(time.Hour))), req: t0, want: 0},
		{name: "Date in the future with Age", h: hdr("Date", httpDate(t0.Add(time.Hour)), "Age", "5"), req: t0, want: 5 * time.Second},
		{name: "invalid Date", h: hdr("Date", "yesterday", "Age", "5"), req: t0, want: 5 * time.Second},
		{name: "garbage Age", h: hdr("Age", "abc"), req: t0.Add(-time.Second), want: time.Second},
		{name: "fractional Age", h: hdr("Age", "1.5"), req: t0, want: 0},
		{name: "negative Age", h: hdr("Age", "-5"), req: t0.Add(-time.Second), want: time.Second},
		{name: "zero Age", h: hdr("Age", "0"), req: t0, want: 0},
		{name: "Age with spaces", h: hdr("Age", " 7 "), req: t0, want: 7 * time.Second},
		{name: "first Age line", h: hdr("Age", "5", "Age", "100"), req: t0, want: 5 * time.Second},
		// Age is a singleton sent as a list: the first member counts.
		{name: "Age list", h: hdr("Age", "7200, 0"), req: t0, want: 7200 * time.Second},
		{name: "Age list small first", h: hdr("Age", "0, 7200"), req: t0, want: 0},
		{name: "Age list without spaces", h: hdr("Age", "30,40"), req: t0, want: 30 * time.Second},
		{name: "Age list with an empty first member", h: hdr("Age", " , 9"), req: t0, want: 9 * time.Second},
		{name: "Age list across lines", h: hdr("Age", "", "Age", "8, 1"), req: t0, want: 8 * time.Second},
		{name: "Age list with garbage first", h: hdr("Age", "abc, 5"), req: t0, want: 0},
		{name: "lenient Date gives no apparent age", h: hdr("Date", "Thu, 26 Nov 2026  11:59:00 GMT"), req: t0, want: 0},
		{name: "response before request", h: hdr("Age", "5"), req: t0.Add(time.Second), want: 5 * time.Second},
		{name: "response before request and Date", h: hdr("Date", httpDate(t0.Add(-3*time.Second))), req: t0.Add(time.Minute), want: 3 * time.Second},
		{name: "Age at cap", h: hdr("Age", "2147483648"), req: t0, want: maxDelta},
		{name: "Age above cap", h: hdr("Age", "4294967296"), req: t0, want: maxDelta},
		{name: "Age at cap plus delay", h: hdr("Age", "2147483648"), req: t0.Add(-time.Second), want: maxDelta + time.Second},

		// RFC 9111 §1.2.2: a delta-seconds too large to represent, or whose
		// arithmetic overflows, is 2^31. InitialAge multiplies before it
		// caps, so the product wraps; and a value beyond int64 is ignored.
		{name: "Age overflowing int64 ns", h: hdr("Age", "9999999999"), req: t0, want: maxDelta},
		{name: "Age wrapping to a small age", h: hdr("Age", "18446744074"), req: t0, want: maxDelta},
		{name: "Age beyond int64", h: hdr("Age", "99999999999999999999"), req: t0, want: maxDelta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.resp
			if resp.IsZero() {
				resp = t0
			}
			if got := InitialAge(tt.h, tt.req, resp); got != tt.want {
				t.Errorf("InitialAge(%v, req %v, resp %v) = %v, want %v", tt.h, tt.req.Sub(t0), resp.Sub(t0), got, tt.want)
			}
		})
	}
}
