// Package static is Tern's built-in static origin: an http.Handler that
// serves the files of one folder as a customer's origin server would, for the
// demo and for tests of the edge and shield.
//
// Each file gets its caching headers from the first matching [Rule]
// (Cache-Control, Surrogate-Key, a strong ETag, Last-Modified and any extra
// headers). Range, If-Range and conditional requests are answered by
// [net/http.ServeContent], so the validators chosen by the rules are honoured.
//
// Only GET and HEAD are allowed. Paths never leave the root: ".." segments,
// encoded slashes and backslashes are refused with 400, files are opened
// through an [os.Root] so symlinks cannot escape, names starting with a dot
// (except .well-known) are hidden, and directories are never listed: a
// directory path serves that directory's index.html or 404, and a path
// ending in '/' must name a directory.
//
// Metrics are registered on the [prometheus.Registerer] given to [New]:
//
//	tern_origin_requests_total{code="2xx"}  responses by status class
//	tern_origin_response_bytes_total        body bytes written
//
// Each request is logged as one Debug-level slog record.
package static
