// Package tlscert holds an edge's certificates, chosen by SNI: a site's
// own certificate files (reloaded when they change), certificates from an
// ACME CA through certmagic (HTTP-01 and TLS-ALPN-01 challenges, on
// demand or at start-up), or a local CA shared by the nodes of one data
// directory (tern demo). New builds them from a Config; GetCertificate is
// the tls.Config hook, and names no site serves fail the handshake with
// unrecognized_name. The node assembly (cmd/tern) translates the
// topology's tls section into a Config.
package tlscert
