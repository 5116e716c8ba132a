package natsbus

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// RemoveThrough removes the stream's purges up to and including seq, as
// retention does, for tests.
func RemoveThrough(ctx context.Context, b *Bus, seq uint64) error {
	st, _, err := b.ensure(ctx)
	if err != nil {
		return err
	}
	return st.Purge(ctx, jetstream.WithPurgeSequence(seq+1))
}

// AckFloor is the stream sequence node's consumer acknowledged up to.
func AckFloor(ctx context.Context, b *Bus, node string) (uint64, error) {
	st, _, err := b.ensure(ctx)
	if err != nil {
		return 0, err
	}
	c, err := st.Consumer(ctx, node)
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.AckFloor.Stream, nil
}

// StreamLeader names the server leading the stream.
func StreamLeader(ctx context.Context, b *Bus) (string, error) {
	st, _, err := b.ensure(ctx)
	if err != nil {
		return "", err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil {
		return "", nil
	}
	return info.Cluster.Leader, nil
}
