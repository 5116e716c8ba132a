package store

import (
	"container/list"
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
	lru    list.List // of *idleFD, most recently returned first
	open   int       // descriptors open: idle and lent
	closed bool

	hits, misses func() // metrics; set by newDiskMetrics
}

// fdSet is what the cache holds for one body file.
type fdSet struct {
	idle []*list.Element // of *idleFD
	lent int
	dead bool // the file was removed: lent descriptors close when returned
}

// idleFD is a verified descriptor waiting for its next hit.
type idleFD struct {
	id    fileID
	f     *os.File
	stamp fileStamp // the file's size and mtime when it was verified
}

func newFDCache(max int) *fdCache {
	return &fdCache{max: max, sets: make(map[fileID]*fdSet), hits: func() {}, misses: func() {}}
}

// take lends an idle descriptor of id, or returns nil and counts a
// descriptor about to be opened (which give or forget must follow).
func (c *fdCache) take(id fileID) (*os.File, fileStamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sets[id]
	if s == nil {
		s = &fdSet{}
		c.sets[id] = s
	}
	s.lent++
	if n := len(s.idle); n > 0 && !c.closed {
		el := s.idle[n-1]
		s.idle = s.idle[:n-1]
		fd := c.lru.Remove(el).(*idleFD)
		c.hits()
		return fd.f, fd.stamp
	}
	c.open++
	c.misses()
	return nil, fileStamp{}
}

// forget undoes a take whose open failed.
func (c *fdCache) forget(id fileID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	c.unlend(id)
}

func (c *fdCache) unlend(id fileID) (s *fdSet) {
	s = c.sets[id]
	s.lent--
	if s.lent == 0 && len(s.idle) == 0 {
		delete(c.sets, id)
	}
	return s
}

// give takes back a lent descriptor, verified at stamp, and keeps it if
// its file is still live and there is room; otherwise it is closed.
// Positioning it for the next reader is the caller's job.
func (c *fdCache) give(id fileID, f *os.File, stamp fileStamp) {
	c.mu.Lock()
	s := c.sets[id]
	if c.closed || s.dead || c.max <= 0 {
		c.open--
		c.unlend(id)
		c.mu.Unlock()
		f.Close()
		return
	}
	s.lent--
	s.idle = append(s.idle, c.lru.PushFront(&idleFD{id: id, f: f, stamp: stamp}))
	var excess *idleFD
	if c.lru.Len() > c.max {
		excess = c.removeIdle(c.lru.Back())
	}
	c.mu.Unlock()
	if excess != nil {
		excess.f.Close()
	}
}

// discard closes a lent descriptor that must not be used again (its file
// failed a check).
func (c *fdCache) discard(id fileID, f *os.File) {
	c.mu.Lock()
	c.open--
	c.unlend(id)
	c.mu.Unlock()
	f.Close()
}

// removeIdle takes el out of the cache; the caller closes its file.
func (c *fdCache) removeIdle(el *list.Element) *idleFD {
	fd := c.lru.Remove(el).(*idleFD)
	s := c.sets[fd.id]
	for i, e := range s.idle {
		if e == el {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			break
		}
	}
	if s.lent == 0 && len(s.idle) == 0 {
		delete(c.sets, fd.id)
	}
	c.open--
	return fd
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
	var fds []*idleFD
	for len(s.idle) > 0 {
		fds = append(fds, c.removeIdle(s.idle[len(s.idle)-1]))
	}
	if s.lent > 0 {
		s.dead = true
	}
	c.mu.Unlock()
	for _, fd := range fds {
		fd.f.Close()
	}
}

// close closes the idle descriptors; lent ones close when they come back.
func (c *fdCache) close() {
	c.mu.Lock()
	c.closed = true
	var fds []*idleFD
	for c.lru.Len() > 0 {
		fds = append(fds, c.removeIdle(c.lru.Back()))
	}
	c.mu.Unlock()
	for _, fd := range fds {
		fd.f.Close()
	}
}

// stats returns the descriptors open (idle and lent) and idle.
func (c *fdCache) stats() (open, idle int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.lru.Len()
}

// lease is a body file lent to one reader: the httpcache.File that
// diskBody.Open returns. Close gives it back to the cache. It tracks the
// file's position while it can, so seeking where the file already is
// costs no system call.
type lease struct {
	c     *fdCache
	id    fileID
	f     *os.File
	stamp fileStamp
	pos   int64
	known bool // pos is the file's position (not after SyscallConn)
}

func newLease(c *fdCache, id fileID, f *os.File, stamp fileStamp) *lease {
	return &lease{c: c, id: id, f: f, stamp: stamp, known: true}
}

func (l *lease) Read(p []byte) (int, error) {
	if l.f == nil {
		return 0, os.ErrClosed
	}
	n, err := l.f.Read(p)
	l.pos += int64(n)
	return n, err
}

func (l *lease) ReadAt(p []byte, off int64) (int, error) {
	if l.f == nil {
		return 0, os.ErrClosed
	}
	return l.f.ReadAt(p, off)
}

func (l *lease) Seek(off int64, whence int) (int64, error) {
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.known && (whence == io.SeekStart && off == l.pos || whence == io.SeekCurrent && off == 0) {
		return l.pos, nil
	}
	pos, err := l.f.Seek(off, whence)
	l.pos, l.known = pos, err == nil
	return pos, err
}

// SyscallConn is the file's, for sendfile, which moves its position.
func (l *lease) SyscallConn() (syscall.RawConn, error) {
	if l.f == nil {
		return nil, os.ErrClosed
	}
	l.known = false
	return l.f.SyscallConn()
}

// Close hands the file back, positioned at the start for its next reader
// (a file that cannot be positioned is closed instead).
func (l *lease) Close() error {
	f := l.f
	if f == nil {
		return os.ErrClosed
	}
	l.f = nil
	if !l.known || l.pos != 0 {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			l.c.discard(l.id, f)
			return nil
		}
	}
	l.c.give(l.id, f, l.stamp)
	return nil
}
