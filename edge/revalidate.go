package edge

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// takeWhole reads the new body a revalidation brought before anyone is
// served from it, so a body the upstream cuts short (the origin dropped
// the connection) leaves the stored entry to serve under stale-if-error,
// or else a clean error status, never a cut response. It reads at most
// limit+1 bytes: what lies beyond stays in resp.Body, for the fill's own
// too-large handling.
func takeWhole(resp *http.Response, limit int64) error {
	buf, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return err
	}
	resp.Body = bufferedBody{Reader: io.MultiReader(bytes.NewReader(buf), resp.Body), Closer: resp.Body}
	return nil
}

// bufferedBody is a response body read ahead: the bytes read, then the
// rest; closing it closes the original.
type bufferedBody struct {
	io.Reader
	io.Closer
}

// revalidationFailed ends a fill whose revalidation got a response whose
// body failed: the stale entry is served if it may be, else the readers
// get an error status.
func (h *Handler) revalidationFailed(f *flight, key string, stale *httpcache.Entry, err error, now time.Time) {
	h.cfg.Logger.Warn("edge: upstream body failed during a revalidation", "key", key, "err", err)
	// The upstream's Cache-Status described the response that failed.
	f.upstreamCacheStatus = ""
	if h.staleIfError(f, stale, nil, err, now) {
		return
	}
	f.errCode, f.err = errorCode(err), err
	h.settle(f)
}

// staleForbidden says whether a stored entry may never be served without a
// successful revalidation, whatever its stale-if-error: must-revalidate,
// proxy-revalidate and s-maxage (which Decide folds into MustRevalidate)
// and no-cache (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.4, §5.2.2.8, §5.2.2.10).
func staleForbidden(e *httpcache.Entry) bool { return e.MustRevalidate || e.NoCache }
