// Package testkit holds the helpers that the tests of edge, origin, geodns
// and cmd/tern share, written once: a settable clock, a poll-until helper,
// metric reads on top of prometheus/testutil, and a loopback topology
// builder. It is imported by tests only.
package testkit
