// Package natsbus carries purges on NATS JetStream: an embedded NATS server
// (the purge node's, by default) and a client implementing purge.Bus, for
// an embedded server or an external NATS cluster. It is the only code of
// Tern that imports NATS.
//
// The stream PURGE (limits retention: every node needs every purge, so it
// is no work queue) holds the purges for MaxAge, with a duplicates window
// that makes a repeated Idempotency-Key one purge. Every node has its own
// durable consumer, named after the node, with explicit acks and at most
// one purge in flight, so purges are applied in stream order. The bucket
// PURGE_STATUS holds, per node, the last sequence it applied.
package natsbus
