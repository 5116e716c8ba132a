//go:build !linux

package geodns

import "net"

// reusePort returns a plain ListenConfig: one UDP socket serves.
func reusePort() net.ListenConfig { return net.ListenConfig{} }
