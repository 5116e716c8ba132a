// Package node assembles the nodes of a Tern topology: it is the only code
// that knows every role. New translates a node of the topology into the
// roles' own Configs (edge.Config, tlscert.Config, origin pools,
// static.Config, geodns's server, responder and health) and builds one
// part per node (its cache or its dns server), one metrics registry and
// one admin server, to which the part contributes its readiness, its
// /status fields and its routes (the dns drain API; later purge and
// reload), behind the admin guard. Run serves until its context ends and
// shuts down the part first, then the admin server. MemoryLimit is the
// process memory policy.
//
// It lives beneath cmd/tern, and not in cmd/tern/internal, because
// bench/offload and the edge's and geodns's external tests build real
// nodes from topologies with it.
package node
