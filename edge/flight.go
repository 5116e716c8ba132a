package edge

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// A flight is one upstream fetch for a cache key, shared by every request
// for that key that arrives while it runs (request collapsing). Its body
// is kept in one growing buffer: each reader follows the buffer as it
// grows, so a slow first response never holds the others back, and the
// finished buffer becomes the stored entry's body without a copy.
type flight struct {
	key string
	// reqHeader is the header of the request the fill was made for, to
	// check a varying response against each waiter's own request.
	reqHeader http.Header
	ready     chan struct{} // closed once the outcome below is set

	// The outcome, written before ready is closed and read-only after.
	entry *httpcache.Entry // the response; Body is set only if complete at once
	// result is what the flight did: resultMiss, resultRevalidated or
	// resultStale (stale-if-error).
	result string
	// cacheStatus is this cache's Cache-Status for the flight's clients,
	// and upstreamCacheStatus the upstream caches' own, for the chain.
	cacheStatus, upstreamCacheStatus string
	// size is the body length when known, else -1.
	size int64
	// For the fill of a sliced object: the key its head is stored under
	// and the slice this flight's body is.
	headKey string
	slice   int64
	aliases []string // other keys this flight is registered under
	// errCode and err are set when there is no response to serve.
	errCode int
	err     error
	// pass says the response may not be shared: the request that started
	// the flight receives it through handoff; the others fetch alone.
	pass    bool
	handoff chan *handoff
	// creatorGone is closed when the request that started the flight has
	// gone, so a handoff nobody takes is closed, not leaked.
	creatorGone <-chan struct{}
	// abandonable says the fill serves only its waiters (a client's fill,
	// not a background revalidation): when the last one leaves with
	// nothing cheap left to finish, it is cancelled. waiters is guarded by
	// the flights' mutex, so a request joins before or after the fill
	// leaves the set, never in between.
	abandonable bool
	waiters     int

	mu sync.Mutex
	// cancelFill ends the upstream fetch; abandoned is set once the last
	// waiter has gone.
	cancelFill context.CancelCauseFunc
	abandoned  bool
	body       []byte
	done       bool
	bodyErr    error
	grew       chan struct{} // closed and replaced whenever body grows or ends
}

func newFlight(key string, reqHeader http.Header, creatorGone <-chan struct{}) *flight {
	return &flight{
		key:         key,
		reqHeader:   reqHeader,
		ready:       make(chan struct{}),
		handoff:     make(chan *handoff),
		creatorGone: creatorGone,
		grew:        make(chan struct{}),
		size:        -1,
	}
}

// flights is the set of fetches in progress, by cache key.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// join returns the flight for key, starting one with start if none runs
// or if usable (when not nil) refuses the one that runs; a refused flight
// goes on for its own readers. created reports whether the caller's
// request started it. key may differ from the new flight's own key (a
// fill with request directives).
func (fs *flights) join(key string, usable func(*flight) bool, mk func() *flight, start func(*flight)) (f *flight, created bool) {
	fs.mu.Lock()
	if f, ok := fs.m[key]; ok && (usable == nil || usable(f)) {
		f.waiters++
		fs.mu.Unlock()
		return f, false
	}
	f = mk()
	f.waiters = 1
	if key != f.key {
		f.aliases = append(f.aliases, key)
	}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	fs.m[key] = f
	fs.mu.Unlock()
	start(f)
	return f, true
}

func (fs *flights) running(key string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, ok := fs.m[key]
	return ok
}

func (fs *flights) remove(f *flight) {
	fs.mu.Lock()
	fs.removeLocked(f)
	fs.mu.Unlock()
}

func (fs *flights) removeLocked(f *flight) {
	if fs.m[f.key] == f {
		delete(fs.m, f.key)
	}
	for _, k := range f.aliases {
		if fs.m[k] == f {
			delete(fs.m, k)
		}
	}
}

// finishBelow is how much body a fill nobody waits for any more may still
// fetch to be stored: finishing costs little and the next client hits.
const finishBelow = 1 << 20

// leave detaches a request from f; gone says the client left before its
// response was done. When it was the last waiter and gone, and f is worth
// nothing to the cache (no response yet, or more than finishBelow of body
// still to come), f leaves the set of running fills, so later requests
// start their own, and its fetch is cancelled. leave reports whether it
// cancelled f.
func (fs *flights) leave(f *flight, gone bool) bool {
	fs.mu.Lock()
	f.waiters--
	if f.waiters > 0 || !gone || !f.abandonable || f.cheapToFinish() {
		fs.mu.Unlock()
		return false
	}
	fs.removeLocked(f)
	fs.mu.Unlock()
	f.mu.Lock()
	f.abandoned = true
	cancel := f.cancelFill
	f.mu.Unlock()
	if cancel != nil {
		cancel(errAbandoned)
	}
	return true
}

// cheapToFinish reports whether f has its outcome and at most finishBelow
// of body still to fetch.
func (f *flight) cheapToFinish() bool {
	select {
	case <-f.ready:
	default:
		return false
	}
	if f.err != nil || f.pass || f.result != resultMiss {
		return true // nothing more to fetch, or a handoff's to end
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done || (f.size >= 0 && f.size-int64(len(f.body)) <= finishBelow)
}

// setCancel gives f the way to cancel its fetch, at once if it has been
// abandoned already.
func (f *flight) setCancel(cancel context.CancelCauseFunc) {
	f.mu.Lock()
	f.cancelFill = cancel
	abandoned := f.abandoned
	f.mu.Unlock()
	if abandoned {
		cancel(errAbandoned)
	}
}

// alias makes f the flight for key too (a head fill is also the fill of
// the slice it brings), unless another flight has key.
func (fs *flights) alias(key string, f *flight) {
	fs.mu.Lock()
	if _, ok := fs.m[key]; !ok {
		fs.m[key] = f
		f.aliases = append(f.aliases, key)
	}
	fs.mu.Unlock()
}

// forget detaches the flight running for key, if any: requests that come
// later start a new one. Invalidation uses it, so nobody joins a fill of
// what was just invalidated.
func (fs *flights) forget(key string) {
	fs.mu.Lock()
	delete(fs.m, key)
	fs.mu.Unlock()
}

// readFrom fills the body from r, waking readers as bytes arrive; sizeHint
// sizes the first allocation. It returns the complete body but does not
// mark it complete: the caller stores it first, so that a client that has
// read the whole body finds it stored on its next request. Nor does it
// mark a failure: the caller takes the flight out of the set of running
// ones first (fail), so a new request never joins a fill that failed.
func (f *flight) readFrom(r io.Reader, sizeHint int64) ([]byte, error) {
	const chunk = 32 << 10
	buf := make([]byte, 0, max(min(sizeHint, 64<<20), chunk))
	for {
		if len(buf) == cap(buf) {
			// A body of the announced length fills the buffer exactly:
			// look for one more byte before doubling it, or every such
			// body would be stored in twice its size.
			var one [1]byte
			n, err := r.Read(one[:])
			if n == 0 {
				if err == io.EOF {
					return buf, nil
				}
				if err != nil {
					return buf, err
				}
				continue
			}
			// Readers keep the old array for the bytes they have not
			// copied yet; it is never written again.
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = append(nb, one[0])
			f.publish(buf, false, nil)
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			f.publish(buf, false, nil)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// storedBody is the body to keep in a stored entry: the fill buffer as it
// is, or a copy of its length when the buffer is much larger (at least
// 32 KiB for a tiny body, up to twice the length when the length was not
// announced). An entry's cost is its body's capacity, so a tiny body kept
// in its fill buffer would cost 32 KiB; a body that fills most of its
// buffer, as one of announced length does, is kept without a copy.
func storedBody(b []byte) []byte {
	spare := cap(b) - len(b)
	if spare <= 4<<10 || spare <= len(b)/8 {
		return b
	}
	return append(make([]byte, 0, len(b)), b...)
}

// fail ends a flight whose body was cut short: it leaves the set of
// running fills, then its readers learn of err.
func (fs *flights) fail(f *flight, body []byte, err error) {
	fs.remove(f)
	f.publish(body, true, err)
}

// complete sets a body that is already whole.
func (f *flight) complete(body []byte) { f.publish(body, true, nil) }

func (f *flight) publish(body []byte, done bool, err error) {
	f.mu.Lock()
	f.body = body
	f.done = done
	f.bodyErr = err
	ch := f.grew
	f.grew = make(chan struct{})
	f.mu.Unlock()
	close(ch)
}

// next returns the body bytes from off on, waiting until there are some.
// At the end of the body it returns io.EOF, or the upstream's error when
// the body was cut short.
func (f *flight) next(ctx context.Context, off int64) ([]byte, error) {
	for {
		f.mu.Lock()
		body, done, err, grew := f.body, f.done, f.bodyErr, f.grew
		f.mu.Unlock()
		if off < int64(len(body)) {
			return body[off:], nil
		}
		if done {
			if err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// wait returns the whole body once it is complete.
func (f *flight) wait(ctx context.Context) ([]byte, error) {
	for {
		f.mu.Lock()
		body, done, err, grew := f.body, f.done, f.bodyErr, f.grew
		f.mu.Unlock()
		if done {
			return body, err
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// writeRange copies body bytes [off, off+n) to w as they arrive (n < 0:
// to the end), flushing after each chunk so clients see progress.
func (f *flight) writeRange(ctx context.Context, w io.Writer, flush func(), off, n int64) (int64, error) {
	var written int64
	for n < 0 || written < n {
		p, err := f.next(ctx, off+written)
		if err == io.EOF {
			if n < 0 {
				return written, nil
			}
			return written, io.ErrUnexpectedEOF
		}
		if err != nil {
			return written, err
		}
		if n >= 0 && int64(len(p)) > n-written {
			p = p[:n-written]
		}
		m, err := w.Write(p)
		written += int64(m)
		if err != nil {
			return written, err
		}
		flush()
	}
	return written, nil
}
