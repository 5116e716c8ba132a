// Package admin guards the admin listener of every node (edges, shields,
// origins, dns): only Host names of the listener's own are served, so a
// web page cannot reach it by DNS rebinding; cross-origin requests are
// refused; and mutating requests need the fleet's bearer token.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// NoTokenWarning is what a node logs, and `tern config check` prints, when
// no admin token is configured.
const NoTokenWarning = "no admin token is configured (admin.token_env or admin.token_file): mutating admin requests such as POST /drain are refused"

// Guard is what an admin listener lets through.
type Guard struct {
	// Token is the bearer token that mutating requests (any method but
	// GET, HEAD and OPTIONS) need; "" refuses them all.
	Token string
	// Hosts are more Host names accepted besides localhost and the IP
	// address a request came in on; "*.example.net" accepts every name
	// under example.net.
	Hosts []string
}

// Handler serves next behind g's checks. Refusals are JSON: 421 for a Host
// that is not the listener's, 403 for a cross-origin request or when no
// token is configured, 401 for a missing or wrong token.
func (g Guard) Handler(next http.Handler) http.Handler {
	token := func(w http.ResponseWriter, r *http.Request) {
		if safeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		if g.Token == "" {
			writeError(w, http.StatusForbidden, NoTokenWarning)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(g.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tern admin"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required: Authorization: Bearer <admin token>")
			return
		}
		next.ServeHTTP(w, r)
	}
	cross := http.NewCrossOriginProtection()
	cross.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin admin requests are refused")
	}))
	inner := cross.Handler(http.HandlerFunc(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hostAllowed(r) {
			writeError(w, http.StatusMisdirectedRequest,
				"Host "+quote(r.Host)+" is not this admin listener's: use its IP address, localhost, or a name in admin.hosts")
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// hostAllowed reports whether r's Host is one of the listener's own. A DNS
// rebinding attack needs a name the attacker controls; IP literals, the
// listener's local address, localhost (resolved by the browser itself) and
// the names the operator lists cannot be such a name. An empty name
// (":9100") and an unspecified address ("0.0.0.0:9100") are what a check
// of an admin address configured as all interfaces sends.
func (g Guard) hostAllowed(r *http.Request) bool {
	host := hostname(r.Host)
	if host == "" || host == "localhost" {
		return true
	}
	for _, h := range g.Hosts {
		h = strings.Trim(strings.ToLower(h), "[]")
		if host == h || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsUnspecified() || ip == localIP(r)
}

// hostname is the name of a Host value: without port or brackets, lower
// case, without a final dot.
func hostname(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// localIP is the address r came in on (not the listener's, which may be
// all interfaces).
func localIP(r *http.Request) netip.Addr {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
