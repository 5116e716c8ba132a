package store

import (
	"context"
	"runtime/debug"
	"sync"
	"time"
)

// pending holds what Get learned and the index does not know yet: the
// time of the latest hit per key, and keys found expired. A hit costs a
// map write under a mutex, never an index write; a batch goes to the index
// every flushEvery, when the map fills, before an eviction and at Close.
type pending struct {
	mu      sync.Mutex
	max     int
	touched map[string]int64
	expired map[string]struct{}
	kick    chan struct{} // asks the flusher for a flush now
}

func (p *pending) init(max int) {
	p.max = max
	p.touched = make(map[string]int64)
	p.expired = make(map[string]struct{})
	p.kick = make(chan struct{}, 1)
}

// touch records a hit on key at (Unix ns). When the map is full the hit
// is dropped: recency is an approximation already.
func (p *pending) touch(key string, at int64) {
	p.mu.Lock()
	if _, ok := p.touched[key]; ok || len(p.touched) < p.max {
		p.touched[key] = at
	}
	full := len(p.touched) >= p.max
	p.mu.Unlock()
	if full {
		p.signal()
	}
}

// expire records that key was found expired.
func (p *pending) expire(key string) {
	p.mu.Lock()
	if len(p.expired) < p.max {
		p.expired[key] = struct{}{}
	}
	full := len(p.expired) >= p.max
	p.mu.Unlock()
	if full {
		p.signal()
	}
}

func (p *pending) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// take returns what was recorded and starts anew.
func (p *pending) take() (map[string]int64, map[string]struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, e := p.touched, p.expired
	if len(t) > 0 {
		p.touched = make(map[string]int64)
	}
	if len(e) > 0 {
		p.expired = make(map[string]struct{})
	}
	return t, e
}

// flushLoop writes the pending hits and expiries to the index until ctx
// ends.
func (d *Disk) flushLoop(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("store: disk flusher panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	t := time.NewTicker(d.tun.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.pending.kick:
		}
		d.flush()
	}
}

// flush writes the pending hits and expiries to the index in one
// transaction.
func (d *Disk) flush() {
	touched, expired := d.pending.take()
	if len(touched) == 0 && len(expired) == 0 {
		return
	}
	now := d.now().UnixNano()
	removed, err := d.update(func(x *indexTx) error {
		if err := x.touch(touched); err != nil {
			return err
		}
		return x.expire(expired, now)
	})
	if err != nil {
		d.log.Warn("store: disk recency flush failed", "path", d.index, "err", err)
		return
	}
	d.removeFiles(removed)
}
