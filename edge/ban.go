package edge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// A ban invalidates, lazily, every stored entry it matches whose response
// arrived at this node no later than At: lookups check the entry they find
// against the bans (Varnish's bans), so a purge of a prefix, a site or
// everything costs nothing in proportion to the cache's size, and a soft
// purge leaves the entry in place, stale since At. Hard bans delete what
// they match when it is looked up; entries never asked for again age out.
type ban struct {
	At time.Time `json:"at"`
	// Host is the normalized host the ban applies to; empty: every host.
	Host string `json:"host,omitempty"`
	// Path is a prefix of the key's path and query (normalized as
	// cacheKey does); empty: every path. Exact makes it the whole path and
	// query (any KeyHeaders suffix still matches).
	Path  string `json:"path,omitempty"`
	Exact bool   `json:"exact,omitempty"`
	// Tag, if set, limits the ban to entries carrying that surrogate key.
	Tag  string `json:"tag,omitempty"`
	Soft bool   `json:"soft,omitempty"`
}

// matches reports whether b applies to the entry e stored under a key
// whose path and query (and KeyHeaders suffix) are pathq.
func (b *ban) matches(pathq string, e *httpcache.Entry) bool {
	if e.ResponseTime.After(b.At) {
		return false
	}
	if b.Tag != "" && !slices.Contains(e.SurrogateKeys, b.Tag) {
		return false
	}
	if b.Exact {
		return pathq == b.Path || strings.HasPrefix(pathq, b.Path+"\x00")
	}
	return strings.HasPrefix(pathq, b.Path)
}

// maxBansPerList bounds the bans one host (or the every-host list) keeps,
// and so the work of a lookup of an entry older than them. Past it the
// older half is folded into one ban of the whole host at the newest of
// their times: it invalidates more than was asked (a miss or a
// revalidation), never less.
const maxBansPerList = 256

// banSet is an immutable snapshot of the bans; the handler swaps in a new
// one for every purge, so a lookup reads it without a lock.
type banSet struct {
	all    []ban
	byHost map[string][]ban
	// newest is the latest At: an entry that arrived after it matches none.
	newest time.Time
}

// verdict of the bans for one entry: hard (drop it), or soft with the
// time it is stale since.
func (bs *banSet) check(primary string, e *httpcache.Entry) (hard, soft bool, since time.Time) {
	host, pathq := splitKey(primary)
	for _, list := range [2][]ban{bs.all, bs.byHost[host]} {
		for i := range list {
			b := &list[i]
			if !b.matches(pathq, e) {
				continue
			}
			if !b.Soft {
				return true, false, time.Time{}
			}
			if !soft || b.At.Before(since) {
				soft, since = true, b.At
			}
		}
	}
	return false, soft, since
}

// splitKey returns the host and the rest (path, query, KeyHeaders) of a
// primary cache key.
func splitKey(key string) (host, pathq string) {
	if i := strings.Index(key, "://"); i >= 0 {
		key = key[i+3:]
	}
	if j := strings.IndexByte(key, '/'); j >= 0 {
		return key[:j], key[j:]
	}
	return key, ""
}

// with returns a new set holding bs's bans and add.
func (bs *banSet) with(add []ban) *banSet {
	n := &banSet{byHost: map[string][]ban{}}
	if bs != nil {
		n.all = slices.Clone(bs.all)
		for h, l := range bs.byHost {
			n.byHost[h] = slices.Clone(l)
		}
		n.newest = bs.newest
	}
	for _, b := range add {
		if b.Host == "" {
			n.all = foldBans(append(n.all, b), "")
		} else {
			n.byHost[b.Host] = foldBans(append(n.byHost[b.Host], b), b.Host)
		}
		if b.At.After(n.newest) {
			n.newest = b.At
		}
	}
	return n
}

// foldBans keeps a list within maxBansPerList (see there).
func foldBans(list []ban, host string) []ban {
	if len(list) <= maxBansPerList {
		return list
	}
	old := list[:len(list)/2]
	f := ban{Host: host, Soft: true}
	for _, b := range old {
		f.Soft = f.Soft && b.Soft
		if b.At.After(f.At) {
			f.At = b.At
		}
	}
	return append([]ban{f}, list[len(old):]...)
}

// banState is how bans are kept with the disk tier.
type banState struct {
	Bans []ban `json:"bans"`
}

func (bs *banSet) encode() ([]byte, error) {
	var st banState
	st.Bans = append(st.Bans, bs.all...)
	for _, l := range bs.byHost {
		st.Bans = append(st.Bans, l...)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("edge: encode bans: %w", err)
	}
	return b, nil
}

func decodeBans(b []byte) (*banSet, error) {
	var st banState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("edge: decode bans: %w", err)
	}
	slices.SortFunc(st.Bans, func(a, b ban) int { return a.At.Compare(b.At) })
	return (*banSet)(nil).with(st.Bans), nil
}
