package store

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The values of tern_store_disk_writes_total's result label.
const (
	writeOK     = "ok"
	writeError  = "error"
	writeENOSPC = "enospc" // no space left, or over quota
)

type diskMetrics struct {
	reg       prometheus.Registerer
	all       []prometheus.Collector
	writes    *prometheus.CounterVec
	corrupt   prometheus.Counter
	evictions prometheus.Counter

	fileHits, fileMisses   prometheus.Counter
	indexHits, indexMisses prometheus.Counter
}

func newDiskMetrics(reg prometheus.Registerer, d *Disk) (*diskMetrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "tern", Subsystem: "store", Name: name, Help: help}
	}
	m := &diskMetrics{
		reg: reg,
		writes: prometheus.NewCounterVec(prometheus.CounterOpts(opts("disk_writes_total",
			"Disk store Sets that wrote, by result: ok, enospc (no space), error.")), []string{"result"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts(opts("disk_corrupt_total",
			"Disk store objects dropped because their body file was missing, truncated or failed its CRC32C, or their record did not decode."))),
		evictions: prometheus.NewCounter(prometheus.CounterOpts(opts("disk_evictions_total",
			"Disk store objects evicted to stay within the byte budget."))),
		fileHits: prometheus.NewCounter(prometheus.CounterOpts(opts("disk_file_cache_hits_total",
			"Disk store body opens served by a file kept open since an earlier hit."))),
		fileMisses: prometheus.NewCounter(prometheus.CounterOpts(opts("disk_file_cache_misses_total",
			"Disk store body opens that opened the file."))),
		indexHits: prometheus.NewCounter(prometheus.CounterOpts(opts("disk_index_cache_hits_total",
			"Disk store lookups answered by the in-memory copy of the index records."))),
		indexMisses: prometheus.NewCounter(prometheus.CounterOpts(opts("disk_index_cache_misses_total",
			"Disk store lookups that read the index."))),
	}
	for _, r := range []string{writeOK, writeError, writeENOSPC} {
		m.writes.WithLabelValues(r)
	}
	m.all = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_bytes",
			"Bytes held by the disk store: bodies plus a per-object overhead.")),
			func() float64 { return float64(d.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_capacity_bytes",
			"The disk store's byte budget.")),
			func() float64 { return float64(d.MaxBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_effective_capacity_bytes",
			"The disk store's budget in effect: its capacity, or less once the filesystem was found full first.")),
			func() float64 { return float64(d.EffectiveBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_objects",
			"Objects held by the disk store.")),
			func() float64 { return float64(d.Objects()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_open_files",
			"Body files the disk store holds open: kept between hits, or in use by one.")),
			func() float64 { n, _ := d.fds.stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_index_cache_bytes",
			"Bytes of the in-memory copy of the disk store's index records, as its bound counts them.")),
			func() float64 { _, b := d.metas.stats(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("disk_index_cache_records",
			"Records in the in-memory copy of the disk store's index.")),
			func() float64 { n, _ := d.metas.stats(); return float64(n) }),
		m.writes, m.corrupt, m.evictions, m.fileHits, m.fileMisses, m.indexHits, m.indexMisses,
	}
	for i, c := range m.all {
		if err := reg.Register(c); err != nil {
			for _, done := range m.all[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("store: register disk store metrics: %w", err)
		}
	}
	return m, nil
}

// unregister lets a later Disk register on the same registry.
func (m *diskMetrics) unregister() {
	for _, c := range m.all {
		m.reg.Unregister(c)
	}
}

func writeResult(err error) string {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return writeENOSPC
	}
	return writeError
}

// logLimit lets through one warning per kind per second, so a full disk
// does not log every Set; the next warning says how many it held back.
type logLimit struct {
	mu         sync.Mutex
	next       map[string]time.Time
	suppressed map[string]int
}

func (l *logLimit) allow(kind string) (ok bool, suppressed int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == nil {
		l.next, l.suppressed = make(map[string]time.Time), make(map[string]int)
	}
	if now.Before(l.next[kind]) {
		l.suppressed[kind]++
		return false, 0
	}
	l.next[kind] = now.Add(time.Second)
	n := l.suppressed[kind]
	l.suppressed[kind] = 0
	return true, n
}
