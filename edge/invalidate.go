package edge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// Invalidation is one purge as the cache applies it. Selectors combine:
// everything any of them names is invalidated.
type Invalidation struct {
	// Site is the Site.Name the purge is for. Empty only with All: every
	// site this node serves.
	Site string
	// URLs are absolute URLs (of one of the site's hosts) or paths (for
	// every host of the site), with their query; each is keyed as a
	// request for it is, over http and https, every Vary variant included.
	URLs []string
	// Prefixes are URL path prefixes (absolute or paths, as URLs).
	Prefixes []string
	// Tags are surrogate keys (Surrogate-Key, Cache-Tag).
	Tags []string
	// All invalidates everything of Site (or of every site).
	All bool
	// Soft marks what matches stale instead of removing it: it is
	// revalidated before it is served fresh again, and
	// stale-while-revalidate and stale-if-error may serve it meanwhile,
	// counted from the purge.
	Soft bool
	// Before, if set, is the time the purge covers up to: entries whose
	// response arrived later are kept. Zero: now. A node that was away
	// longer than the purge stream keeps purges invalidates All, Soft or
	// not, Before its last applied purge.
	Before time.Time
}

// errInvalidation wraps every refusal of an Invalidation.
var errInvalidation = errors.New("edge: bad invalidation")

// stateStore is a store that keeps state beside its entries across
// restarts (store.Tiered with a disk tier, store.Disk).
type stateStore interface {
	SetState(name string, v []byte) error
	State(name string) []byte
}

// tagStore is a store with a surrogate-key index (store.Tiered,
// store.Memory, store.Disk).
type tagStore interface {
	DeleteTag(tag string, match func(key string) bool) int
}

// bansState names the bans in a stateStore.
const bansState = "edge-bans"

// Invalidate applies a purge and returns how many stored objects it
// removed at once: URLs (each primary key, with its variants) and tags
// (each tagged entry, when the store has a tag index). Prefixes, sites,
// everything and soft purges become bans (see ban), applied as entries
// are looked up, and count 0 here. Once Invalidate returns, no request
// is answered from what the purge names without asking upstream, and a
// request no longer joins a fill that started before (a fill whose
// response arrived before the purge stores an entry the bans catch; one
// whose request was sent before the purge but answered after may still
// store the older copy: ordering against the shield is the purge
// applier's part). Bans are saved with the disk tier before it returns.
func (h *Handler) Invalidate(ctx context.Context, inv Invalidation) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	hosts, s, err := h.invalidationHosts(inv)
	if err != nil {
		return 0, err
	}
	at := inv.Before
	if at.IsZero() {
		at = h.cfg.Now()
	}
	var bans []ban
	n := 0
	if inv.All {
		if inv.Site == "" {
			bans = append(bans, ban{At: at, Soft: inv.Soft})
		}
		for _, host := range hosts {
			if inv.Site != "" {
				bans = append(bans, ban{At: at, Host: host, Soft: inv.Soft})
			}
		}
	}
	for _, raw := range inv.URLs {
		targets, err := purgeTargets(raw, hosts)
		if err != nil {
			return 0, err
		}
		for _, t := range targets {
			if inv.Soft || len(s.KeyHeaders) > 0 {
				// Soft, or keyed by request fields whose values are not
				// known here: a ban on the exact path and query.
				bans = append(bans, ban{At: at, Host: t.host, Path: t.pathq, Exact: true, Soft: inv.Soft})
			}
			if !inv.Soft {
				for _, scheme := range [...]string{"http", "https"} {
					key := scheme + "://" + t.host + t.pathq
					if _, ok := h.store.Get(key); ok {
						n++
					}
					h.invalidate(key)
				}
			}
		}
	}
	for _, raw := range inv.Prefixes {
		targets, err := purgeTargets(raw, hosts)
		if err != nil {
			return 0, err
		}
		for _, t := range targets {
			bans = append(bans, ban{At: at, Host: t.host, Path: t.pathq, Soft: inv.Soft})
		}
	}
	for _, tag := range inv.Tags {
		ts, indexed := h.store.(tagStore)
		if inv.Soft || !indexed {
			for _, host := range hosts {
				bans = append(bans, ban{At: at, Host: host, Tag: tag, Soft: inv.Soft})
			}
			continue
		}
		n += ts.DeleteTag(tag, func(key string) bool { host, _ := splitKey(key); return containsHost(hosts, host) })
	}
	h.forgetFlights(hosts, inv.Site == "")
	if len(bans) > 0 {
		if err := h.addBans(bans); err != nil {
			return n, err
		}
	}
	return n, nil
}

// invalidationHosts checks inv and returns the hosts it covers: the
// site's, or every site's for All without a site.
func (h *Handler) invalidationHosts(inv Invalidation) ([]string, *Site, error) {
	if !inv.All && len(inv.URLs)+len(inv.Prefixes)+len(inv.Tags) == 0 {
		return nil, nil, fmt.Errorf("%w: nothing selected", errInvalidation)
	}
	if inv.Site == "" {
		if !inv.All || len(inv.URLs)+len(inv.Prefixes)+len(inv.Tags) > 0 {
			return nil, nil, fmt.Errorf("%w: a site is required unless purging everything", errInvalidation)
		}
		return nil, &Site{}, nil
	}
	for i := range h.cfg.Sites {
		s := &h.cfg.Sites[i]
		if s.Name != inv.Site {
			continue
		}
		hosts := make([]string, 0, len(s.Hosts))
		for _, host := range s.Hosts {
			hosts = append(hosts, normalizeHost(host))
		}
		return hosts, s, nil
	}
	return nil, nil, fmt.Errorf("%w: unknown site %q", errInvalidation, inv.Site)
}

// purgeTarget is one host and normalized path and query.
type purgeTarget struct{ host, pathq string }

// purgeTargets resolves a URL or path of a purge to the keys' host and
// path parts: an absolute URL names one host, which must be the site's;
// a path names every host of the site.
func purgeTargets(raw string, hosts []string) ([]purgeTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %q: %v", errInvalidation, raw, err)
	}
	if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		return nil, fmt.Errorf("%w: %q is neither an absolute URL nor a path", errInvalidation, raw)
	}
	// The path and query as CacheKey writes them.
	pathq := strings.TrimPrefix(CacheKey("", "", u), "://")
	if u.Host == "" {
		ts := make([]purgeTarget, 0, len(hosts))
		for _, host := range hosts {
			ts = append(ts, purgeTarget{host, pathq})
		}
		return ts, nil
	}
	host := normalizeHost(u.Host)
	if !containsHost(hosts, host) {
		return nil, fmt.Errorf("%w: host %q is not the site's", errInvalidation, u.Host)
	}
	return []purgeTarget{{host, pathq}}, nil
}

func containsHost(hosts []string, host string) bool {
	for _, h := range hosts {
		if h == host {
			return true
		}
	}
	return false
}

// forgetFlights makes the running fills of hosts (of every host, with
// all) unjoinable: a request after a purge starts a fill of its own.
func (h *Handler) forgetFlights(hosts []string, all bool) {
	fs := &h.flights
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for key := range fs.m {
		if host, _ := splitKey(key); all || containsHost(hosts, host) {
			delete(fs.m, key)
		}
	}
}

// addBans installs bans and saves the whole set with the disk tier, so it
// applies after a restart too.
func (h *Handler) addBans(bans []ban) error {
	h.banMu.Lock()
	defer h.banMu.Unlock()
	bs := h.bans.Load().with(bans)
	h.bans.Store(bs)
	h.m.invalidations.Add(float64(len(bans)))
	ss, ok := h.store.(stateStore)
	if !ok {
		return nil
	}
	b, err := bs.encode()
	if err != nil {
		return err
	}
	if err := ss.SetState(bansState, b); err != nil {
		return fmt.Errorf("edge: bans apply but may not survive a restart: %w", err)
	}
	return nil
}

// loadBans installs the bans saved with the disk tier. Bans that cannot
// be read become one hard ban of everything stored until now: the cache
// must never serve what may have been purged.
func (h *Handler) loadBans() {
	ss, ok := h.store.(stateStore)
	if !ok {
		return
	}
	b := ss.State(bansState)
	if b == nil {
		return
	}
	bs, err := decodeBans(b)
	if err != nil {
		h.cfg.Logger.Error("edge: saved bans unreadable; treating everything stored as purged", "err", err)
		bs = (*banSet)(nil).with([]ban{{At: h.cfg.Now()}})
	}
	h.bans.Store(bs)
}

// unbanned applies the bans to e, found under key for primary: a hard ban
// deletes it (a miss), a soft one makes it stale since the ban. The hit
// path pays one atomic load and a time comparison while no ban is newer
// than the entry.
func (h *Handler) unbanned(primary, key string, e *httpcache.Entry) (*httpcache.Entry, string) {
	bs := h.bans.Load()
	if bs == nil || e.HitForPass || e.VaryMarker || e.ResponseTime.After(bs.newest) {
		return e, key
	}
	hard, soft, since := bs.check(primary, e)
	switch {
	case hard:
		h.store.Delete(key)
		return nil, key
	case soft:
		return staleSince(e, since), key
	}
	return e, key
}

// staleSince returns a copy of e whose freshness ended at t (if not
// before): stale-while-revalidate and stale-if-error count from then.
func staleSince(e *httpcache.Entry, t time.Time) *httpcache.Entry {
	cp := *e
	cp.Lifetime = min(e.Lifetime, e.Age(t))
	return &cp
}

// CacheKey is the primary cache key of a request for u on host over
// scheme, as the handler computes it (without a site's KeyHeaders): what
// a purge of a URL must name. host is normalized (lower case, no port).
func CacheKey(scheme, host string, u *url.URL) string {
	return cacheKey(scheme, normalizeHost(host), u)
}
