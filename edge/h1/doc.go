// Package h1 is a strict HTTP/1.1 server: a connection loop that reads
// requests by RFC 9112, hands each to an http.Handler as a fresh
// *http.Request, and writes the handler's response straight into the
// connection's buffer.
//
// It serves the same http.Handler as net/http, for plain-text HTTP/1.x
// only (no TLS, no HTTP/2, no Hijack), and does less work per request:
// the response header is written from the handler's map without a clone
// or a sort, the request's context starts its background read of the
// connection only when somebody asks for its Done channel, and the
// response writer and its header map are reused between the requests of
// a connection.
//
// Parsing is stricter than net/http: a bare CR or LF, obs-fold, a
// Transfer-Encoding together with a Content-Length, a Transfer-Encoding
// that does not end in chunked, and a repeated Content-Length are all
// answered with an error and the connection is closed.
package h1
