// Package purge will hold Tern's purge API, its durable bus and the
// node-side applier that invalidates content on every edge and shield.
// Not built yet: see the issue tracker.
package purge
