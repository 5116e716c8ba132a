package geodns

import "time"

// SetClock replaces h's clock (call it before Run): the flap tests move
// time by hand.
func (h *Health) SetClock(now func() time.Time) { h.now = now }
