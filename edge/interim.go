package edge

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// interimWriter relays an upstream's informational responses (103 Early
// Hints and the like) to the client waiting for that upstream response,
// until the final response is on its way. They are written to the client
// at once and never kept: neither stored nor merged into the final
// response's header.
//
// 100 Continue and 101 Switching Protocols are not relayed: they concern
// one connection (its request body, its protocol), and each hop answers
// them itself.
type interimWriter struct {
	mu           sync.Mutex
	w            http.ResponseWriter // nil once closed
	clientFacing bool
}

func (h *Handler) newInterimWriter(w http.ResponseWriter) *interimWriter {
	return &interimWriter{w: w, clientFacing: h.cfg.ClientFacing}
}

// trace returns ctx with a client trace that relays 1xx responses to iw.
// The transport calls it from its own goroutine, so the writes are
// serialized with close by iw.mu.
func (iw *interimWriter) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: iw.relay})
}

func (iw *interimWriter) relay(code int, header textproto.MIMEHeader) error {
	if code == http.StatusContinue || code == http.StatusSwitchingProtocols {
		return nil
	}
	iw.mu.Lock()
	defer iw.mu.Unlock()
	if iw.w == nil {
		return nil
	}
	// ResponseWriters send the current header map with a 1xx and keep
	// it: swap in the interim fields, then put back what the handler had
	// set for the final response.
	hdr := iw.w.Header()
	saved := maps.Clone(hdr)
	clear(hdr)
	for k, v := range header {
		hdr[k] = v
	}
	removeHopHeaders(hdr)
	delete(hdr, "Cache-Status")
	if iw.clientFacing {
		deleteAll(hdr, targetedHeaders)
		deleteAll(hdr, httpcache.TagFields)
	}
	iw.w.WriteHeader(code)
	clear(hdr)
	maps.Copy(hdr, saved)
	return nil
}

// close ends the relay: from now on the handler writes to the client
// itself. It waits for a relay in progress.
func (iw *interimWriter) close() {
	iw.mu.Lock()
	iw.w = nil
	iw.mu.Unlock()
}
