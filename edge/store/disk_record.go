package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
)

// The disk index (bbolt) has three buckets:
//
//	entries  cache key → record (recordHeader fixed bytes, then the entry's
//	         metadata from encodeEntry)
//	lru      recency stamp (8) ‖ file id (12) → body size (8) ‖ cache key;
//	         ordered oldest first, so eviction takes the first key
//	meta     "state" → the totals and the process epoch (metaLen bytes)
//
// Every write transaction keeps the three consistent: a record and its lru
// key are put and deleted together, and the totals in meta change in the
// same transaction, so the counts never need a scan at start-up.
var (
	bucketEntries = []byte("entries")
	bucketLRU     = []byte("lru")
	bucketMeta    = []byte("meta")
	metaKey       = []byte("state")
)

// fileID names one body file uniquely for the life of the cache: epoch
// counts the processes that opened it, seq the Sets within one. A body
// file is never reused or rewritten, so a reader's open file stays whole
// whatever happens to its key.
type fileID struct {
	epoch uint32
	seq   uint64
}

// record is what the index holds for a cache key.
type record struct {
	stamp  int64 // last use (Set, or a hit flushed since), Unix ns
	expiry int64 // end of the ttl, Unix ns
	size   int64 // body bytes; 0: no body file
	crc    uint32
	id     fileID
	meta   []byte // encodeEntry's bytes
	// tags are the entry's surrogate keys, for the tags bucket; set for
	// a record being written, not read from the encoding.
	tags []string
}

const (
	recordVersion = 1
	// recordHeader is the fixed part of a record: version, stamp, expiry,
	// size, CRC32C, epoch, seq.
	recordHeader = 1 + 8 + 8 + 8 + 4 + 4 + 8
	// lruKeyLen is a stamp and a file id.
	lruKeyLen = 8 + 4 + 8
	signBit   = 1 << 63

	// diskObjectOverhead is the fixed part of an object's cost (see
	// Disk.Bytes): bbolt's per-key bookkeeping for two buckets and a share
	// of the body file's inode and directory entry.
	diskObjectOverhead = 256
)

var errRecord = errors.New("store: bad index record")

func (r *record) append(dst []byte) []byte {
	dst = append(dst, recordVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.stamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.expiry))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.size))
	dst = binary.BigEndian.AppendUint32(dst, r.crc)
	dst = binary.BigEndian.AppendUint32(dst, r.id.epoch)
	dst = binary.BigEndian.AppendUint64(dst, r.id.seq)
	return append(dst, r.meta...)
}

// parseRecord reads a record; its meta aliases v.
func parseRecord(v []byte) (record, error) {
	if len(v) < recordHeader || v[0] != recordVersion {
		return record{}, fmt.Errorf("%w: %d bytes, version %d", errRecord, len(v), firstByte(v))
	}
	r := record{
		stamp:  int64(binary.BigEndian.Uint64(v[1:])),
		expiry: int64(binary.BigEndian.Uint64(v[9:])),
		size:   int64(binary.BigEndian.Uint64(v[17:])),
		crc:    binary.BigEndian.Uint32(v[25:]),
		id:     fileID{binary.BigEndian.Uint32(v[29:]), binary.BigEndian.Uint64(v[33:])},
		meta:   v[recordHeader:],
	}
	if r.size < 0 {
		return record{}, fmt.Errorf("%w: size %d", errRecord, r.size)
	}
	return r, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// setStamp rewrites the stamp of an encoded record in place.
func setStamp(v []byte, stamp int64) { binary.BigEndian.PutUint64(v[1:], uint64(stamp)) }

// objectCost is what one object counts against MaxBytes: its body, its
// key and index record, and diskObjectOverhead.
func objectCost(key string, recordLen int, size int64) int64 {
	return size + int64(len(key)) + int64(recordLen) + diskObjectOverhead
}

// lruKey orders by stamp (sign bit flipped so that big-endian bytes sort
// like the signed value), then by file id, which makes it unique.
func lruKey(stamp int64, id fileID) []byte {
	k := make([]byte, 0, lruKeyLen)
	k = binary.BigEndian.AppendUint64(k, uint64(stamp)^signBit)
	k = binary.BigEndian.AppendUint32(k, id.epoch)
	return binary.BigEndian.AppendUint64(k, id.seq)
}

func parseLRUKey(k []byte) (stamp int64, id fileID, ok bool) {
	if len(k) != lruKeyLen {
		return 0, fileID{}, false
	}
	stamp = int64(binary.BigEndian.Uint64(k) ^ signBit)
	return stamp, fileID{binary.BigEndian.Uint32(k[8:]), binary.BigEndian.Uint64(k[12:])}, true
}

func lruValue(size int64, key string) []byte {
	v := make([]byte, 0, 8+len(key))
	v = binary.BigEndian.AppendUint64(v, uint64(size))
	return append(v, key...)
}

func parseLRUValue(v []byte) (size int64, key string, ok bool) {
	if len(v) < 8 {
		return 0, "", false
	}
	return int64(binary.BigEndian.Uint64(v)), string(v[8:]), true
}

// diskMeta is the meta record: the totals of what the entries bucket
// holds, the epoch of the process that has the cache open, and whether
// the last process closed it cleanly (index and folder in agreement).
type diskMeta struct {
	bytes, objects int64
	epoch          uint32
	clean          bool
}

const (
	metaVersion = 1
	metaLen     = 1 + 8 + 8 + 4 + 1
)

func (m diskMeta) encode() []byte {
	b := make([]byte, 0, metaLen)
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(m.bytes))
	b = binary.BigEndian.AppendUint64(b, uint64(m.objects))
	b = binary.BigEndian.AppendUint32(b, m.epoch)
	if m.clean {
		return append(b, 1)
	}
	return append(b, 0)
}

func parseMeta(v []byte) (diskMeta, bool) {
	if len(v) != metaLen || v[0] != metaVersion {
		return diskMeta{}, false
	}
	return diskMeta{
		bytes:   int64(binary.BigEndian.Uint64(v[1:])),
		objects: int64(binary.BigEndian.Uint64(v[9:])),
		epoch:   binary.BigEndian.Uint32(v[17:]),
		clean:   v[21] == 1,
	}, true
}

// Body files live in 256 folders named by the first byte of the key's
// hash, as <hash>.<epoch>.<seq> in fixed-width hex.
const bodyNameLen = 16 + 1 + 8 + 1 + 16

func keyHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// bodyPath is where the body of key's version id lives under root.
func bodyPath(root, key string, id fileID) string {
	h := keyHash(key)
	var raw [8 + 4 + 8]byte
	binary.BigEndian.PutUint64(raw[:], h)
	binary.BigEndian.PutUint32(raw[8:], id.epoch)
	binary.BigEndian.PutUint64(raw[12:], id.seq)
	var name [bodyNameLen]byte
	hex.Encode(name[0:16], raw[0:8])
	name[16] = '.'
	hex.Encode(name[17:25], raw[8:12])
	name[25] = '.'
	hex.Encode(name[26:42], raw[12:20])
	return filepath.Join(root, string(name[0:2]), string(name[:]))
}

// parseBodyName returns the file id in a body file's name.
func parseBodyName(name string) (fileID, bool) {
	if len(name) != bodyNameLen || name[16] != '.' || name[25] != '.' {
		return fileID{}, false
	}
	var raw [8 + 4 + 8]byte
	if _, err := hex.Decode(raw[0:8], []byte(name[0:16])); err != nil {
		return fileID{}, false
	}
	if _, err := hex.Decode(raw[8:12], []byte(name[17:25])); err != nil {
		return fileID{}, false
	}
	if _, err := hex.Decode(raw[12:20], []byte(name[26:42])); err != nil {
		return fileID{}, false
	}
	return fileID{binary.BigEndian.Uint32(raw[8:]), binary.BigEndian.Uint64(raw[12:])}, true
}
