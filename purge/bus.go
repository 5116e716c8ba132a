package purge

import (
	"context"
	"errors"
	"time"
)

// Bus is the durable stream of purges and the record of which node applied
// which. purge/natsbus implements it on NATS JetStream; every purge node and
// cache node of a fleet share one.
type Bus interface {
	// Publish stores p durably in the stream and returns its stream
	// sequence once the stream acknowledged it. A dedupKey seen again
	// inside the stream's duplicates window returns the first publish's
	// sequence with Duplicate set, and stores nothing.
	Publish(ctx context.Context, p Purge, dedupKey string) (Published, error)
	// Position reports where a node's durable consumer stands against the
	// stream, before it subscribes.
	Position(ctx context.Context, node string) (Position, error)
	// Subscribe delivers the stream to node's durable consumer, in stream
	// order, one purge at a time (the next only after the handler
	// returned nil). A handler's error has the same purge handed to it
	// again after a delay, until it succeeds or the subscription stops, so
	// that no purge overtakes another. A purge is acknowledged only by
	// its Delivery's Ack, which acknowledges every one before it too. It
	// returns once the consumer exists.
	Subscribe(ctx context.Context, node string, h Handler) (Subscription, error)
	// Record stores that node applied every purge up to seq.
	Record(ctx context.Context, node string, st NodeState) error
	// Nodes returns the recorded state of every node that ever recorded.
	Nodes(ctx context.Context) (map[string]NodeState, error)
	// Get returns the purge stored at seq; ErrNotFound when the stream no
	// longer keeps it (or never had it).
	Get(ctx context.Context, seq uint64) (Purge, error)
}

// ErrNotFound is returned by Bus.Get for a sequence the stream does not hold.
var ErrNotFound = errors.New("purge not found")

// ErrUnavailable wraps every error of a Bus that could not reach its
// stream, so that the API can answer 503.
var ErrUnavailable = errors.New("purge bus unavailable")

// Published is the stream's answer to a publish.
type Published struct {
	Seq       uint64
	Duplicate bool
}

// Position is a node's consumer against the stream.
type Position struct {
	// Applied is the last stream sequence the node recorded as applied
	// (0 for a new node).
	Applied uint64
	// First and Last are the stream's first and last sequences; an empty
	// stream that once held purges has First == Last+1.
	First, Last uint64
}

// Missed reports whether purges after Applied were removed from the stream
// before the node could apply them.
func (p Position) Missed() bool {
	return p.Last > p.Applied && p.First > p.Applied+1
}

// Delivery is one purge as a node's consumer receives it.
type Delivery struct {
	Purge Purge
	// Seq is the purge's stream sequence.
	Seq uint64
	// Pending is how many purges follow it in the stream for this node.
	Pending uint64
	// Ack acknowledges this purge and every one delivered before it.
	Ack func() error
}

// Handler applies one delivery.
type Handler func(ctx context.Context, d Delivery) error

// Subscription is a running consumer.
type Subscription interface {
	// Stop stops delivering; it returns once no handler runs any more.
	Stop()
}

// NodeState is what a node recorded: the last purge it applied.
type NodeState struct {
	// Seq is the last stream sequence the node applied; in-order delivery
	// means every purge up to it is applied.
	Seq uint64 `json:"seq"`
	// At is when it applied it.
	At time.Time `json:"at"`
}
