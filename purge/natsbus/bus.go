package natsbus

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tern-cdn/tern/purge"
)

// Names of the stream, its subject and the status bucket.
const (
	StreamName   = "PURGE"
	subject      = "purge.v1"
	statusBucket = "PURGE_STATUS"
	nodeKeyPre   = "node."
)

// Config configures a connection to the purge stream.
type Config struct {
	// URLs are the NATS servers (nats://host:port); ignored with InProcess.
	URLs []string
	// InProcess connects to an embedded server without a socket.
	InProcess *Server
	// TLS, when set, is used for every connection.
	TLS *tls.Config
	// CredsFile is a NATS credentials file (JWT and NKey seed). Optional.
	CredsFile string
	// Name is the connection's name in the server's monitoring.
	Name string
	// MaxAge is how long the stream keeps purges. Default: 24h.
	MaxAge time.Duration
	// Duplicates is the window in which a repeated Idempotency-Key is one
	// purge. Default: 2m (at most MaxAge).
	Duplicates time.Duration
	// Replicas of the stream and the status bucket (1 or 3 in a cluster).
	// Default: 1.
	Replicas int
	// Timeout bounds each operation when the caller's context has no
	// deadline. Default: 5s.
	Timeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) applyDefaults() {
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
	c.Duplicates = min(c.Duplicates, c.MaxAge)
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Bus is purge.Bus on NATS JetStream.
type Bus struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream

	// mu guards the handles made once the stream is reachable.
	mu     sync.Mutex
	stream jetstream.Stream
	status jetstream.KeyValue
}

var _ purge.Bus = (*Bus)(nil)

// Connect connects to NATS. It does not wait for the servers: a bus whose
// servers are unreachable keeps trying, and its operations fail with
// purge.ErrUnavailable meanwhile.
func Connect(cfg Config) (*Bus, error) {
	cfg.applyDefaults()
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if cfg.TLS != nil {
		opts = append(opts, nats.Secure(cfg.TLS))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	url := ""
	if cfg.InProcess != nil {
		opts = append(opts, nats.InProcessServer(cfg.InProcess.ns))
	} else {
		if len(cfg.URLs) == 0 {
			return nil, errors.New("nats: no server URL")
		}
		for i, u := range cfg.URLs {
			if i > 0 {
				url += ","
			}
			url += u
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Bus{cfg: cfg, nc: nc, js: js}, nil
}

// Close closes the connection.
func (b *Bus) Close() { b.nc.Close() }

// unavailable wraps an error of the stream with purge.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, purge.ErrUnavailable, err)
}

// opContext gives ctx the bus's timeout unless it has a deadline.
func (b *Bus) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.cfg.Timeout)
}

// connected fails fast while the connection is down, so that the API
// answers 503 at once instead of waiting for a reconnection.
func (b *Bus) connected(op string) error {
	if !b.nc.IsConnected() {
		return unavailable(op, nats.ErrConnectionClosed)
	}
	return nil
}

// ensure creates (or updates) the stream and the status bucket once.
func (b *Bus) ensure(ctx context.Context) (jetstream.Stream, jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stream != nil {
		return b.stream, b.status, nil
	}
	if err := b.connected("purge stream"); err != nil {
		return nil, nil, err
	}
	st, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Tern purges, in the order every node applies them",
		Subjects:    []string{subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      b.cfg.MaxAge,
		Duplicates:  b.cfg.Duplicates,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, nil, unavailable("creating stream "+StreamName, err)
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      statusBucket,
		Description: "Tern purge status: the last purge each node applied",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, nil, unavailable("creating bucket "+statusBucket, err)
	}
	b.stream, b.status = st, kv
	return st, kv, nil
}

// Publish implements purge.Bus.
func (b *Bus) Publish(ctx context.Context, p purge.Purge, dedupKey string) (purge.Published, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	if _, _, err := b.ensure(ctx); err != nil {
		return purge.Published{}, err
	}
	if err := b.connected("publishing purge"); err != nil {
		return purge.Published{}, err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return purge.Published{}, fmt.Errorf("encoding purge: %w", err)
	}
	var opts []jetstream.PublishOpt
	if dedupKey != "" {
		opts = append(opts, jetstream.WithMsgID(dedupKey))
	}
	ack, err := b.js.Publish(ctx, subject, data, opts...)
	if err != nil {
		return purge.Published{}, unavailable("publishing purge", err)
	}
	return purge.Published{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// checkNode accepts the names a durable consumer and a key may have.
func checkNode(node string) error {
	if node == "" || strings.IndexFunc(node, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) >= 0 {
		return fmt.Errorf("node name %q: only letters, digits, '-' and '_'", node)
	}
	return nil
}

// Position implements purge.Bus.
func (b *Bus) Position(ctx context.Context, node string) (purge.Position, error) {
	if err := checkNode(node); err != nil {
		return purge.Position{}, err
	}
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	st, kv, err := b.ensure(ctx)
	if err != nil {
		return purge.Position{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return purge.Position{}, unavailable("stream info", err)
	}
	pos := purge.Position{First: info.State.FirstSeq, Last: info.State.LastSeq}
	// What the node recorded, not its consumer's ack floor: the server
	// moves an ack floor past purges removed from the stream, which would
	// hide that the node never applied them.
	e, err := kv.Get(ctx, nodeKeyPre+node)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return pos, nil
	case err != nil:
		return purge.Position{}, unavailable("reading the state of "+node, err)
	}
	var ns purge.NodeState
	if err := json.Unmarshal(e.Value(), &ns); err != nil {
		return purge.Position{}, fmt.Errorf("decoding the state of %s: %w", node, err)
	}
	pos.Applied = ns.Seq
	return pos, nil
}

// maxInFlight is how many purges a consumer may have delivered and not
// acknowledged: they are applied in order, and acknowledged together.
const maxInFlight = 256

// Subscribe implements purge.Bus.
func (b *Bus) Subscribe(ctx context.Context, node string, h purge.Handler) (purge.Subscription, error) {
	if err := checkNode(node); err != nil {
		return nil, err
	}
	opCtx, cancel := b.opContext(ctx)
	defer cancel()
	st, _, err := b.ensure(opCtx)
	if err != nil {
		return nil, err
	}
	cons, err := st.CreateOrUpdateConsumer(opCtx, jetstream.ConsumerConfig{
		Durable:     node,
		Description: "purges applied by " + node,
		// Purges are handed to the handler one after another in stream
		// order (the client calls it serially and retries a failed one
		// itself, never naks), and one ack covers every purge before it.
		AckPolicy:     jetstream.AckAllPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: maxInFlight,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
	})
	if err != nil {
		return nil, unavailable("consumer "+node, err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	log := b.cfg.Logger.With("node", node)
	cc, err := cons.Consume(func(m jetstream.Msg) { b.deliver(runCtx, log, m, h) },
		jetstream.PullMaxMessages(maxInFlight),
		// Short pulls with frequent heartbeats: after a NATS server of a
		// cluster dies, the consumer finds its new leader in seconds.
		jetstream.PullExpiry(5*time.Second),
		jetstream.PullHeartbeat(time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			log.Debug("purge consumer", "err", err)
		}))
	if err != nil {
		stop()
		return nil, unavailable("consuming as "+node, err)
	}
	return &subscription{cc: cc, stop: stop}, nil
}

// deliver hands one message to h and acknowledges it when h succeeded.
func (b *Bus) deliver(ctx context.Context, log *slog.Logger, m jetstream.Msg, h purge.Handler) {
	meta, err := m.Metadata()
	if err != nil {
		log.Error("purge message without metadata", "err", err)
		_ = m.Term()
		return
	}
	var p purge.Purge
	if err := json.Unmarshal(m.Data(), &p); err != nil {
		// A message nobody can read would stop every node: skip it, loudly.
		log.Error("purge message unreadable; skipped", "seq", meta.Sequence.Stream, "err", err)
		_ = m.Term()
		return
	}
	d := purge.Delivery{Purge: p, Seq: meta.Sequence.Stream, Pending: meta.NumPending, Ack: m.Ack}
	// Retry here rather than nak: a nak would let later purges overtake
	// this one.
	for attempt := 0; ; attempt++ {
		err := h(ctx, d)
		if err == nil {
			return
		}
		if attempt%20 == 0 {
			log.Warn("purge not applied; retrying", "seq", d.Seq, "attempt", attempt+1, "err", err)
		}
		_ = m.InProgress()
		select {
		case <-ctx.Done():
			return // stopping: it is delivered again to the next subscription
		case <-time.After(250 * time.Millisecond):
		}
	}
}

type subscription struct {
	cc   jetstream.ConsumeContext
	stop context.CancelFunc
}

func (s *subscription) Stop() {
	s.stop()
	s.cc.Stop()
	<-s.cc.Closed()
}

// Record implements purge.Bus.
func (b *Bus) Record(ctx context.Context, node string, st purge.NodeState) error {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	_, kv, err := b.ensure(ctx)
	if err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding node state: %w", err)
	}
	if _, err := kv.Put(ctx, nodeKeyPre+node, data); err != nil {
		return unavailable("recording "+node, err)
	}
	return nil
}

// Nodes implements purge.Bus.
func (b *Bus) Nodes(ctx context.Context) (map[string]purge.NodeState, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	_, kv, err := b.ensure(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.connected("purge status"); err != nil {
		return nil, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, unavailable("listing purge status", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	nodes := make(map[string]purge.NodeState, len(keys))
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, unavailable("reading purge status", err)
		}
		var st purge.NodeState
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			continue
		}
		nodes[k[len(nodeKeyPre):]] = st
	}
	return nodes, nil
}

// Get implements purge.Bus.
func (b *Bus) Get(ctx context.Context, seq uint64) (purge.Purge, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	st, _, err := b.ensure(ctx)
	if err != nil {
		return purge.Purge{}, err
	}
	if err := b.connected("reading purge"); err != nil {
		return purge.Purge{}, err
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return purge.Purge{}, purge.ErrNotFound
	}
	if err != nil {
		return purge.Purge{}, unavailable("reading purge", err)
	}
	var p purge.Purge
	if err := json.Unmarshal(m.Data, &p); err != nil {
		return purge.Purge{}, fmt.Errorf("decoding purge %d: %w", seq, err)
	}
	return p, nil
}
