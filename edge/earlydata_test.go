package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestEarlyDataGate: with 0-RTT on, only safe methods are served from
// early data; unsafe ones get 425 and never reach the cache.
func TestEarlyDataGate(t *testing.T) {
	reached := 0
	h := earlyDataGate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }),
		func(r *http.Request) bool { return r.Header.Get("X-Early") == "1" })
	tests := []struct {
		method, early string
		code, reached int
	}{
		{"GET", "1", 200, 1},
		{"HEAD", "1", 200, 2},
		{"OPTIONS", "1", 200, 3},
		{"POST", "1", 425, 3},
		{"DELETE", "1", 425, 3},
		{"POST", "", 200, 4},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/x", nil)
		r.Header.Set("X-Early", tt.early)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.code || reached != tt.reached {
			t.Errorf("%s early=%q: %d, handler reached %d times", tt.method, tt.early, w.Code, reached)
		}
	}
	// A request with no QUIC connection in its context is not early data.
	if inEarlyData(httptest.NewRequest("POST", "/", nil)) {
		t.Error("a TCP request counted as early data")
	}
}
