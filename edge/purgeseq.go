package edge

import (
	"net/http"
	"strconv"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/origin"
)

// The ordering of purges across tiers: an edge that applied a purge
// before its shield must not fill from the shield's copy of what it
// purged. Its fills say which purge it applied; a shield behind answers
// them from upstream (a pass: the response is not stored, and joins no
// fill in flight, which may carry the purged copy).

// setPurgeSeq replaces a forwarded request's PurgeSeqHeader with this
// node's applied purge, when it fills from shields.
func (h *Handler) setPurgeSeq(hdr http.Header) {
	delete(hdr, origin.PurgeSeqHeader)
	if h.cfg.Shielded && h.cfg.PurgeApplied != nil {
		hdr[origin.PurgeSeqHeader] = []string{strconv.FormatUint(h.cfg.PurgeApplied(), 10)}
	}
}

// behindPurge reports whether r comes from a node of the fleet that
// applied a later purge than this one did.
func (h *Handler) behindPurge(r *http.Request) bool {
	v, ok := r.Header[origin.PurgeSeqHeader]
	if !ok || len(v) != 1 || h.cfg.PurgeApplied == nil || !h.fromFleet(r) {
		return false
	}
	seq, err := strconv.ParseUint(v[0], 10, 64)
	return err == nil && seq > h.cfg.PurgeApplied()
}

// softPurgedForFleet reports whether e, stale, was made so by a soft
// purge and is asked for by an edge of the fleet. Such a copy is not
// served while revalidating: its Age does not show the purge, so the edge
// would store it as fresh; the shield revalidates first instead (the edge
// served its own stale copy to its client meanwhile).
func (h *Handler) softPurgedForFleet(r *http.Request, primary string, e *httpcache.Entry) bool {
	bs := h.bans.Load()
	if bs == nil || e.ResponseTime.After(bs.newest) || !h.fromFleet(r) {
		return false
	}
	_, soft, _ := bs.check(primary, e)
	return soft
}
