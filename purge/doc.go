// Package purge is the purge model and the node-side applier of Tern.
//
// A Purge is what a site owner asks for (URLs, prefixes, tags, or
// everything of a site; hard or soft). The API (purge/api) validates it and
// publishes it on a durable stream behind the Bus interface (purge/natsbus,
// the only code that imports NATS). Every edge and shield runs an Applier:
// it consumes the stream in order with its own durable consumer, calls the
// node's Invalidator (the cache) for each purge, records that the node
// applied it, and only then acknowledges it. A node that missed purges the
// stream no longer keeps treats everything it stored as stale.
//
// The package never imports the cache: Invalidator is declared here and
// satisfied by the cache handler when the node is assembled.
package purge
