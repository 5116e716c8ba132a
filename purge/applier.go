package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Invalidator is what a node's cache offers the applier. The cache handler
// satisfies it when the node is assembled; purge never imports the cache.
type Invalidator interface {
	// Invalidate removes (or, for a soft purge, marks stale) every stored
	// object p selects, in both store tiers.
	Invalidate(ctx context.Context, p Purge) error
	// InvalidateAll treats every object stored before the given time as
	// purged (hard): the node missed purges the stream no longer keeps, so
	// any of them may have been purged and none may be served without
	// being fetched or revalidated again.
	InvalidateAll(ctx context.Context, before time.Time) error
}

// ApplierConfig configures a node's applier.
type ApplierConfig struct {
	// Node is the node's name: its durable consumer and its status key.
	Node string
	Bus  Bus
	// Cache is the node's cache.
	Cache Invalidator
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the applier's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now defaults to time.Now.
	Now func() time.Time
}

// Applier consumes the purge stream for one node, in order, applying each
// purge to the node's cache before acknowledging it.
type Applier struct {
	cfg     ApplierConfig
	log     *slog.Logger
	metrics applierMetrics

	// mu guards the fields below; the bus calls handle one at a time, but
	// Stop and the readiness reads come from other goroutines.
	mu       sync.Mutex
	applied  uint64 // last stream sequence applied to the cache
	recorded uint64 // last sequence recorded in the bus's status
	target   uint64 // the stream's last sequence when the applier started
	sub      Subscription
	// uncommitted counts purges applied since the last record and ack;
	// committed is when that was.
	uncommitted int
	committed   time.Time
	// latest is the last delivery not yet committed; flush commits it
	// when no further purge comes within commitInterval.
	latest *Delivery
	flush  *time.Timer

	flushWG sync.WaitGroup
	stopped bool

	// commitMu serializes commits of the delivery path and the flush
	// timer.
	commitMu sync.Mutex

	ready atomic.Bool
}

type applierMetrics struct {
	latency prometheus.Histogram
	lag     prometheus.Gauge
	applied *prometheus.CounterVec
	stale   prometheus.Counter
}

func newApplierMetrics(reg prometheus.Registerer, node string) applierMetrics {
	if reg == nil {
		reg = prometheus.NewRegistry() // registered nowhere anyone reads
	}
	f := promauto.With(reg)
	labels := prometheus.Labels{"node": node}
	return applierMetrics{
		latency: f.NewHistogram(prometheus.HistogramOpts{
			Name: "tern_purge_accept_to_applied_seconds", ConstLabels: labels,
			Help:    "Time from the API accepting a purge to this node having applied it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30},
		}),
		lag: f.NewGauge(prometheus.GaugeOpts{
			Name: "tern_purge_consumer_lag", ConstLabels: labels,
			Help: "Purges in the stream this node has not applied yet.",
		}),
		applied: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tern_purge_applied_total", ConstLabels: labels,
			Help: "Purges this node handled, by kind and result (applied, failed, repeated).",
		}, []string{"kind", "result"}),
		stale: f.NewCounter(prometheus.CounterOpts{
			Name: "tern_purge_missed_total", ConstLabels: labels,
			Help: "Times this node found purges removed from the stream before it applied them, and marked its whole cache stale.",
		}),
	}
}

// NewApplier returns an applier; Start runs it.
func NewApplier(cfg ApplierConfig) (*Applier, error) {
	if cfg.Node == "" || cfg.Bus == nil || cfg.Cache == nil {
		return nil, errors.New("purge applier: node, bus and cache are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Applier{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), metrics: newApplierMetrics(cfg.Registerer, cfg.Node)}, nil
}

// Start finds where the node's consumer stands, treats the whole cache as
// stale if purges it had not applied are gone from the stream, and starts
// consuming. The applier is Ready once it applied every purge the stream
// held when it started.
func (a *Applier) Start(ctx context.Context) error {
	pos, err := a.cfg.Bus.Position(ctx, a.cfg.Node)
	if err != nil {
		return fmt.Errorf("purge applier %s: %w", a.cfg.Node, err)
	}
	a.mu.Lock()
	a.applied, a.recorded, a.target = pos.Applied, pos.Applied, pos.Last
	a.mu.Unlock()
	if pos.Missed() {
		if err := a.missed(ctx, pos.First-1); err != nil {
			return err
		}
	}
	a.checkReady(pos.Last - min(pos.Last, a.lastApplied()))
	sub, err := a.cfg.Bus.Subscribe(ctx, a.cfg.Node, a.handle)
	if err != nil {
		return fmt.Errorf("purge applier %s: %w", a.cfg.Node, err)
	}
	a.mu.Lock()
	a.sub = sub
	a.mu.Unlock()
	return nil
}

// Stop stops consuming; a purge being applied finishes first.
func (a *Applier) Stop() {
	a.mu.Lock()
	sub := a.sub
	a.sub = nil
	a.mu.Unlock()
	if sub != nil {
		sub.Stop()
	}
	// Commit what was applied, so that the record does not lag.
	a.mu.Lock()
	a.stopped = true
	if a.flush != nil && a.flush.Stop() {
		a.flushWG.Done() // it will not run
	}
	a.flush = nil
	a.mu.Unlock()
	a.flushWG.Wait()
	a.flushLatest()
}

// Ready reports whether the node applied every purge the stream held when
// the applier started (a node must not report ready before).
func (a *Applier) Ready() bool { return a.ready.Load() }

// Applied returns the last stream sequence the node applied.
func (a *Applier) Applied() uint64 { return a.lastApplied() }

func (a *Applier) lastApplied() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied
}

// missed treats the whole cache as stale: the purges after the node's
// last applied one up to upTo are no longer in the stream.
func (a *Applier) missed(ctx context.Context, upTo uint64) error {
	a.mu.Lock()
	from := a.applied
	a.mu.Unlock()
	a.log.Warn("purge: purges were removed from the stream before this node applied them; treating its whole cache as stale",
		"applied", from, "missing_through", upTo)
	if err := a.cfg.Cache.InvalidateAll(ctx, a.cfg.Now()); err != nil {
		return fmt.Errorf("purge applier %s: invalidating all after missed purges: %w", a.cfg.Node, err)
	}
	a.metrics.stale.Inc()
	a.mu.Lock()
	a.applied = max(a.applied, upTo)
	a.mu.Unlock()
	return nil
}

// Commits (a status record, then one ack for every purge applied since)
// happen every commitEvery purges, or commitInterval after the previous
// one, or, when no purge follows, commitInterval after the last: recording
// and acknowledging each purge would cost two more round trips per purge
// and node.
const (
	commitEvery    = 64
	commitInterval = 10 * time.Millisecond
)

// handle applies one delivery; the bus hands it again when handle returns
// an error.
func (a *Applier) handle(ctx context.Context, d Delivery) error {
	kind := d.Purge.Kind()
	a.metrics.lag.Set(float64(d.Pending))
	last := a.lastApplied()
	if d.Seq <= last {
		// Applied before (its ack or its record was lost): applying it
		// again would remove what was cached since; only commit it.
		a.metrics.applied.WithLabelValues(kind, "repeated").Inc()
		return a.maybeCommit(ctx, d)
	}
	if d.Seq > last+1 {
		if err := a.fillGap(ctx, last+1, d.Seq-1); err != nil {
			return err
		}
	}
	if err := a.apply(ctx, d.Seq, d.Purge); err != nil {
		return err
	}
	if err := a.maybeCommit(ctx, d); err != nil {
		return err
	}
	a.checkReady(d.Pending)
	return nil
}

// apply applies one purge to the cache.
func (a *Applier) apply(ctx context.Context, seq uint64, p Purge) error {
	kind := p.Kind()
	if err := a.cfg.Cache.Invalidate(ctx, p); err != nil {
		a.metrics.applied.WithLabelValues(kind, "failed").Inc()
		a.log.Error("purge: applying failed; it will be tried again", "purge", PublicID(seq, p.ID), "seq", seq, "err", err)
		return fmt.Errorf("applying purge %s: %w", p.ID, err)
	}
	a.mu.Lock()
	a.applied = seq
	a.uncommitted++
	a.mu.Unlock()
	if !p.Accepted.IsZero() {
		a.metrics.latency.Observe(a.cfg.Now().Sub(p.Accepted).Seconds())
	}
	a.metrics.applied.WithLabelValues(kind, "applied").Inc()
	a.log.Debug("purge applied", "purge", PublicID(seq, p.ID), "seq", seq, "site", p.Site, "kind", kind, "soft", p.Soft)
	return nil
}

// fillGap applies the purges from..to that were not delivered before a
// later one: read from the stream when it still holds them (a delivery
// lost when a NATS server died is redelivered only much later), or, when
// the stream no longer does, treated as missed.
func (a *Applier) fillGap(ctx context.Context, from, to uint64) error {
	pos, err := a.cfg.Bus.Position(ctx, a.cfg.Node)
	if err != nil {
		return fmt.Errorf("purge applier %s: %w", a.cfg.Node, err)
	}
	if pos.First > from {
		if err := a.missed(ctx, min(pos.First-1, to)); err != nil {
			return err
		}
		from = pos.First
	}
	for seq := from; seq <= to; seq++ {
		p, err := a.cfg.Bus.Get(ctx, seq)
		if errors.Is(err, ErrNotFound) {
			if err := a.missed(ctx, seq); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("purge applier %s: reading purge %d: %w", a.cfg.Node, seq, err)
		}
		if err := a.apply(ctx, seq, p); err != nil {
			return err
		}
	}
	return nil
}

// maybeCommit commits now when it is time, or leaves d to the flush timer.
func (a *Applier) maybeCommit(ctx context.Context, d Delivery) error {
	now := a.cfg.Now()
	a.mu.Lock()
	due := a.uncommitted >= commitEvery || now.Sub(a.committed) >= commitInterval
	if !due {
		a.latest = &d
	}
	a.mu.Unlock()
	if !due {
		a.armFlush(commitInterval)
		return nil
	}
	return a.commit(ctx, d)
}

// flushLatest commits the last delivery when no purge followed it.
func (a *Applier) flushLatest() {
	a.mu.Lock()
	d := a.latest
	a.flush = nil
	a.mu.Unlock()
	if d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.commit(ctx, *d); err != nil {
		a.log.Warn("purge: recording applied purges failed; retrying", "seq", d.Seq, "err", err)
		a.armFlush(250 * time.Millisecond)
	}
}

// armFlush has flushLatest run after wait, unless it is armed already or
// the applier stopped.
func (a *Applier) armFlush(wait time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.flush != nil || a.stopped {
		return
	}
	a.flushWG.Add(1)
	a.flush = time.AfterFunc(wait, func() {
		defer a.flushWG.Done()
		a.flushLatest()
	})
}

// commit records the node's state in the bus and then acknowledges the
// purges applied so far. The record comes first: a node's record is never
// behind its acknowledgements, so a restarted node never mistakes purges
// it applied for purges it missed.
func (a *Applier) commit(ctx context.Context, d Delivery) error {
	a.commitMu.Lock()
	defer a.commitMu.Unlock()
	now := a.cfg.Now()
	a.mu.Lock()
	// The record is of the last purge applied, which a repeated
	// delivery may be older than: a record never goes back.
	applied := a.applied
	recorded := a.recorded >= applied
	a.mu.Unlock()
	if !recorded {
		if err := a.cfg.Bus.Record(ctx, a.cfg.Node, NodeState{Seq: applied, At: now}); err != nil {
			return fmt.Errorf("recording purges through %d applied: %w", applied, err)
		}
		a.log.Info("purges applied", "through_seq", applied, "last", PublicID(d.Seq, d.Purge.ID), "pending", d.Pending)
	}
	a.mu.Lock()
	a.recorded = max(a.recorded, applied)
	a.uncommitted = 0
	a.committed = now
	if a.latest != nil && a.latest.Seq <= d.Seq {
		a.latest = nil
	}
	a.mu.Unlock()
	if d.Ack != nil {
		if err := d.Ack(); err != nil {
			// Harmless: the purges come again and are only committed.
			a.log.Warn("purge ack failed", "seq", d.Seq, "err", err)
		}
	}
	return nil
}

// checkReady marks the applier ready once it caught up with the stream as
// it stood at start, or when nothing is pending.
func (a *Applier) checkReady(pending uint64) {
	if a.ready.Load() {
		return
	}
	a.mu.Lock()
	caughtUp := a.applied >= a.target || pending == 0
	a.mu.Unlock()
	if caughtUp {
		a.ready.Store(true)
		a.log.Info("purge: caught up with the stream", "applied", a.lastApplied())
	}
}
