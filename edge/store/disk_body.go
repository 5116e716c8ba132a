package store

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// errCorrupt is wrapped by the error of FileBody.Open for a body that is
// not what was stored.
var errCorrupt = errors.New("store: corrupt body file")

// diskBody is the httpcache.FileBody of a disk entry.
type diskBody struct {
	d    *Disk
	key  string
	id   fileID
	size int64
	crc  uint32
}

// fileStamp is what must not change for a verified file to stay verified.
type fileStamp struct{ size, mtime int64 }

// Size is the body's length.
func (b *diskBody) Size() int64 { return b.size }

// Open lends the body file, open already if an earlier hit gave it back
// (fdCache), else opened now. It checks the file's size, and the first
// time this process opens it (or after its size or mtime changed) its
// CRC32C: one fstat per Open. The file is at offset 0. A file that fails a
// check is corrupt: Open removes it and its record, counts it and returns
// an error wrapping errCorrupt. An error wrapping os.ErrNotExist means the
// entry was replaced or deleted since the Get (or its file lost, which
// counts as corrupt).
func (b *diskBody) Open() (httpcache.File, error) {
	c := b.d.fds
	k := c.take(b.id)
	var path string
	if k == nil {
		path = bodyPath(b.d.bodies, b.key, b.id)
		var err error
		if k, err = openKept(b.id, path); err != nil {
			c.forget(b.id)
			if errors.Is(err, os.ErrNotExist) {
				b.corrupt(path, "missing")
			}
			return nil, fmt.Errorf("store: open body: %w", err)
		}
	}
	st, err := k.stat()
	if err != nil {
		c.discard(k)
		return nil, fmt.Errorf("store: open body: %w", err)
	}
	if st == k.stamp {
		return newLease(c, k), nil
	}
	if path == "" {
		path = bodyPath(b.d.bodies, b.key, b.id)
	}
	if st.size != b.size {
		c.discard(k)
		return nil, b.corrupt(path, fmt.Sprintf("size %d, want %d", st.size, b.size))
	}
	if v, ok := b.d.verified.Load(path); !ok || v.(fileStamp) != st {
		if reason := b.check(k.f); reason != "" {
			c.discard(k)
			return nil, b.corrupt(path, reason)
		}
		b.d.verified.Store(path, st)
	}
	k.stamp = st
	return newLease(c, k), nil
}

var crcBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// check reads f (with ReadAt: its position stays) and says what is wrong with it, if anything.
func (b *diskBody) check(f *os.File) string {
	buf := crcBufs.Get().(*[64 << 10]byte)
	defer crcBufs.Put(buf)
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, b.size+1), buf[:])
	switch {
	case err != nil:
		return "read: " + err.Error()
	case n != b.size:
		return fmt.Sprintf("read %d bytes, want %d", n, b.size)
	case h.Sum32() != b.crc:
		return fmt.Sprintf("crc32c %08x, want %08x", h.Sum32(), b.crc)
	}
	return ""
}

// corrupt drops the record if it still names this body, removes the file,
// and when the record was current counts and logs it: a record replaced
// since the Get had its file removed on purpose.
func (b *diskBody) corrupt(path, reason string) error {
	d := b.d
	d.verified.Delete(path)
	if !d.dropIfCurrent(b.key, b.id) {
		return fmt.Errorf("%w %s: %s (entry replaced)", errCorrupt, path, reason)
	}
	// dropIfCurrent removed the file.
	d.met.corrupt.Inc()
	d.log.Warn("store: corrupt body file dropped", "path", path, "reason", reason)
	return fmt.Errorf("%w %s: %s", errCorrupt, path, reason)
}
