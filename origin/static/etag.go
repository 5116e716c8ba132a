package static

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// maxETags bounds the ETag cache; when full it is emptied and refilled.
const maxETags = 10000

// etagCache remembers the ETag of each file version (path, size, mtime), so a
// file is hashed once until it changes. Concurrent misses on one version share
// a single hash.
type etagCache struct {
	mu     sync.Mutex
	byName map[string]etagEntry
	group  singleflight.Group

	hashed atomic.Int64 // Testing: how many files were hashed.
}

type etagEntry struct {
	size int64
	mod  time.Time
	etag string
}

func newETagCache() *etagCache {
	return &etagCache{byName: make(map[string]etagEntry)}
}

// get returns the ETag of f, the open file name described by fi. It may read
// f, which is left at offset 0.
func (c *etagCache) get(name string, f io.ReadSeeker, fi fs.FileInfo) (string, error) {
	size, mod := fi.Size(), fi.ModTime()
	c.mu.Lock()
	e, ok := c.byName[name]
	c.mu.Unlock()
	if ok && e.size == size && e.mod.Equal(mod) {
		return e.etag, nil
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", name, size, mod.UnixNano())
	v, err, _ := c.group.Do(key, func() (any, error) {
		etag, err := hashETag(f)
		if err != nil {
			return "", err
		}
		c.hashed.Add(1)
		c.mu.Lock()
		if len(c.byName) >= maxETags {
			clear(c.byName)
		}
		c.byName[name] = etagEntry{size: size, mod: mod, etag: etag}
		c.mu.Unlock()
		return etag, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// hashETag returns the strong ETag of the content of f: the quoted hex of the
// first 16 bytes of its SHA-256. f is left at offset 0.
func hashETag(f io.ReadSeeker) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	// Rewind: http.ServeContent sniffs the type from the current offset.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`, nil
}
