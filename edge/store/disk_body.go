package store

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
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

// Open opens the body file, checks its size, and the first time this
// process opens it (or after its size or mtime changed) its CRC32C. The
// file is at offset 0. A file that fails a check is corrupt: Open removes
// it and its record, counts it and returns an error wrapping errCorrupt.
// An error wrapping os.ErrNotExist means the entry was replaced or deleted
// since the Get (or its file lost, which counts as corrupt).
func (b *diskBody) Open() (*os.File, error) {
	path := bodyPath(b.d.bodies, b.key, b.id)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			b.corrupt(path, "missing")
		}
		return nil, fmt.Errorf("store: open body: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: open body: %w", err)
	}
	st := fileStamp{fi.Size(), fi.ModTime().UnixNano()}
	if st.size != b.size {
		f.Close()
		return nil, b.corrupt(path, fmt.Sprintf("size %d, want %d", st.size, b.size))
	}
	if v, ok := b.d.verified.Load(path); ok && v.(fileStamp) == st {
		return f, nil
	}
	if reason := b.check(f); reason != "" {
		f.Close()
		return nil, b.corrupt(path, reason)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: open body: %w", err)
	}
	b.d.verified.Store(path, st)
	return f, nil
}

var crcBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// check reads f and says what is wrong with it, if anything.
func (b *diskBody) check(f *os.File) string {
	buf := crcBufs.Get().(*[64 << 10]byte)
	defer crcBufs.Put(buf)
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, io.LimitReader(f, b.size+1), buf[:])
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
