// Package precond evaluates the conditional request header fields of
// RFC 9110 §13 (If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since and If-Range) against a representation the edge has
// stored. It is pure: it reads an [net/http.Header] and the stored
// [Validators] and returns a decision.
//
// The edge calls it after selecting a fresh stored response, in the order of
// RFC 9110 §13.2.2:
//
//	switch precond.Evaluate(r.Method, r.Header, v) {
//	case precond.NotModified: // 304 with the stored validators
//	case precond.PreconditionFailed: // 412
//	default:
//		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && precond.IfRange(r.Header, v) {
//			// hand the Range field to package byterange
//		} // else 200 with the whole representation
//	}
//
// Evaluate assumes the representation exists (it was selected from the
// cache), so "*" satisfies If-Match and fails If-None-Match. RFC 9110 §13.2.1
// also says preconditions are ignored when the answer without them would not
// be 2xx or 412; that is the caller's decision, made before calling.
//
// # Parsing
//
// Entity-tag lists may span several field lines and carry OWS and empty
// elements. A malformed element is skipped up to the next comma and the rest
// of the list is still used. The weakness prefix is "W/" exactly (RFC 9110
// §8.8.3 makes it case-sensitive). A field whose value is empty or only OWS
// counts as absent, as in net/http. A stored ETag that is not a valid
// entity-tag (some origins send them unquoted) is treated as no ETag at all,
// so it never matches anything but "*".
//
// Dates are parsed with [net/http.ParseTime] (IMF-fixdate, RFC 850 and
// asctime). If-Modified-Since and If-Unmodified-Since are ignored when they
// do not parse, when they are sent on more than one field line (a list of
// dates), or when the representation has no Last-Modified. A date in the
// future is not ignored: RFC 9110 dropped the "later than the server's
// current time is invalid" rule of RFC 2616 §14.25, so none is applied, and
// Evaluate needs no clock. Last-Modified is compared at one-second
// resolution, as HTTP-dates have.
//
// # If-Range and dates
//
// RFC 9110 §13.1.5 honours an If-Range HTTP-date only if it exactly equals
// Last-Modified and that Last-Modified is a strong validator. §8.8.2.2 lets a
// cache call it strong when the stored response's Date is at least one
// second after Last-Modified (nothing else could have changed within that
// second unseen). IfRange implements exactly that with [Validators].Date; a
// zero Date counts as unknown, so the date is treated as weak and the Range
// field is ignored (a 200 instead of a 206 is always correct).
package precond
