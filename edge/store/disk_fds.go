package store

import (
	"io"
	"os"
	"sync"
	"syscall"
)

// fdCache keeps body files open between hits, so a disk hit does not
// open its file again. It is safe against eviction and replacement
// because a body file is write-once under a name no other version ever
// has (fileID): it is written in tmp/, synced and renamed into place
// whole, and never rewritten, so a descriptor of the file named by id
// holds exactly the bytes of that version. What a replacement or an
// eviction changes is which id a key's record names; the old id's file is
// removed, and then drop closes its idle descriptors and marks it dead,
// so a descriptor lent at the time is closed when it comes back. An open
// that succeeded did so before the file was unlinked, so its set existed
// before drop ran; a later one finds no file.
//
// A descriptor is lent to one reader at a time (lease): sendfile(2) reads
// from the file's own position, so two hits must never share one. A hot
// object thus keeps as many descriptors as hits in flight; the idle ones
// are bounded in number, least recently returned closed first.
type fdCache struct {
	max int // idle descriptors kept; 0: none

	mu     sync.Mutex
	sets   map[fileID]*fdSet
	lru    keptFD // sentinel of the idle descriptors, most recently returned first
	idle   int
	open   int // descriptors open: idle and lent
	closed bool

	hits, misses func() // metrics; set by newDiskMetrics
}

// fdSet is what the cache holds for one body file.
type fdSet struct {
	idle []*keptFD
	lent int
	dead bool // the file was removed: lent descriptors close when returned
}

// keptFD is an open body file, idle in the cache or lent. It is allocated
// once per open and reused by every hit that takes it, so a hit allocates
// no bookkeeping of its own but its lease.
type keptFD struct {
	id    fileID
	f     *os.File
	rc    syscall.RawConn
	stamp fileStamp // the file's size and mtime when it was verified

	prev, next *keptFD // in the idle list

	// fstat fills st and stErr; bound once, so a hit's fstat allocates
	// nothing (os.File.Stat does).
	fstat func(fd uintptr)
	st    syscall.Stat_t
	stErr error
}

// openKept opens path as the kept descriptor of id.
func openKept(id fileID, path string) (*keptFD, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	k := &keptFD{id: id, f: f, rc: rc}
	k.fstat = func(fd uintptr) { k.stErr = syscall.Fstat(int(fd), &k.st) }
	return k, nil
}

// stat returns the file's size and mtime now.
func (k *keptFD) stat() (fileStamp, error) {
	if err := k.rc.Control(k.fstat); err != nil {
		return fileStamp{}, err
	}
	if k.stErr != nil {
		return fileStamp{}, &os.PathError{Op: "fstat", Path: k.f.Name(), Err: k.stErr}
	}
	return fileStamp{k.st.Size, k.st.Mtim.Nano()}, nil
}

func newFDCache(max int) *fdCache {
	c := &fdCache{max: max, sets: make(map[fileID]*fdSet), hits: func() {}, misses: func() {}}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// take lends an idle descriptor of id, or returns nil and counts a
// descriptor about to be opened (which give, discard or forget must
// follow).
func (c *fdCache) take(id fileID) *keptFD {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sets[id]
	if s == nil {
		s = &fdSet{}
		c.sets[id] = s
	}
	s.lent++
	if n := len(s.idle); n > 0 && !c.closed {
		k := s.idle[n-1]
		s.idle = s.idle[:n-1]
		c.unlink(k)
		c.hits()
		return k
	}
	c.open++
	c.misses()
	return nil
}

// forget undoes a take whose open failed.
func (c *fdCache) forget(id fileID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	c.unlend(id)
}

func (c *fdCache) unlend(id fileID) {
	s := c.sets[id]
	s.lent--
	if s.lent == 0 && len(s.idle) == 0 {
		delete(c.sets, id)
	}
}

// give takes back a lent descriptor and keeps it if its file is still
// live and there is room; otherwise it is closed. Positioning it for the
// next reader is the caller's job.
func (c *fdCache) give(k *keptFD) {
	c.mu.Lock()
	s := c.sets[k.id]
	if c.closed || s.dead || c.max <= 0 {
		c.open--
		c.unlend(k.id)
		c.mu.Unlock()
		k.f.Close()
		return
	}
	s.lent--
	s.idle = append(s.idle, k)
	k.prev, k.next = &c.lru, c.lru.next
	k.prev.next, k.next.prev = k, k
	c.idle++
	var excess *keptFD
	if c.idle > c.max {
		excess = c.removeIdle(c.lru.prev)
	}
	c.mu.Unlock()
	if excess != nil {
		excess.f.Close()
	}
}

// discard closes a lent descriptor that must not be used again (its file
// failed a check).
func (c *fdCache) discard(k *keptFD) {
	c.mu.Lock()
	c.open--
	c.unlend(k.id)
	c.mu.Unlock()
	k.f.Close()
}

func (c *fdCache) unlink(k *keptFD) {
	k.prev.next, k.next.prev = k.next, k.prev
	k.prev, k.next = nil, nil
	c.idle--
}

// removeIdle takes the idle k out of the cache; the caller closes it.
func (c *fdCache) removeIdle(k *keptFD) *keptFD {
	c.unlink(k)
	s := c.sets[k.id]
	for i, e := range s.idle {
		if e == k {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			break
		}
	}
	if s.lent == 0 && len(s.idle) == 0 {
		delete(c.sets, k.id)
	}
	c.open--
	return k
}

// drop closes the idle descriptors of a removed body file and marks the
// lent ones to be closed when they come back. It must follow the file's
// removal (see fdCache).
func (c *fdCache) drop(id fileID) {
	c.mu.Lock()
	s := c.sets[id]
	if s == nil {
		c.mu.Unlock()
		return
	}
	var ks []*keptFD
	for len(s.idle) > 0 {
		ks = append(ks, c.removeIdle(s.idle[len(s.idle)-1]))
	}
	if s.lent > 0 {
		s.dead = true
	}
	c.mu.Unlock()
	for _, k := range ks {
		k.f.Close()
	}
}

// close closes the idle descriptors; lent ones close when they come back.
func (c *fdCache) close() {
	c.mu.Lock()
	c.closed = true
	var ks []*keptFD
	for c.idle > 0 {
		ks = append(ks, c.removeIdle(c.lru.prev))
	}
	c.mu.Unlock()
	for _, k := range ks {
		k.f.Close()
	}
}

// stats returns the descriptors open (idle and lent) and idle.
func (c *fdCache) stats() (open, idle int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.idle
}

// lease is a body file lent to one reader: the httpcache.File that
// diskBody.Open returns. Close gives it back to the cache. It tracks the
// file's position while it can, so seeking where the file already is
// costs no system call.
type lease struct {
	c     *fdCache
	k     *keptFD // nil once closed
	pos   int64
	known bool // pos is the file's position (not after SyscallConn)
}

func newLease(c *fdCache, k *keptFD) *lease { return &lease{c: c, k: k, known: true} }

func (l *lease) Read(p []byte) (int, error) {
	if l.k == nil {
		return 0, os.ErrClosed
	}
	n, err := l.k.f.Read(p)
	l.pos += int64(n)
	return n, err
}

func (l *lease) ReadAt(p []byte, off int64) (int, error) {
	if l.k == nil {
		return 0, os.ErrClosed
	}
	return l.k.f.ReadAt(p, off)
}

func (l *lease) Seek(off int64, whence int) (int64, error) {
	if l.k == nil {
		return 0, os.ErrClosed
	}
	if l.known && (whence == io.SeekStart && off == l.pos || whence == io.SeekCurrent && off == 0) {
		return l.pos, nil
	}
	pos, err := l.k.f.Seek(off, whence)
	l.pos, l.known = pos, err == nil
	return pos, err
}

// SyscallConn is the file's, for sendfile, which moves its position.
func (l *lease) SyscallConn() (syscall.RawConn, error) {
	if l.k == nil {
		return nil, os.ErrClosed
	}
	l.known = false
	return l.k.rc, nil
}

// Close hands the file back, positioned at the start for its next reader
// (a file that cannot be positioned is closed instead).
func (l *lease) Close() error {
	k := l.k
	if k == nil {
		return os.ErrClosed
	}
	l.k = nil
	if !l.known || l.pos != 0 {
		if _, err := k.f.Seek(0, io.SeekStart); err != nil {
			l.c.discard(k)
			return nil
		}
	}
	l.c.give(k)
	return nil
}
