package geodns

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort returns a ListenConfig that sets SO_REUSEPORT, so several UDP
// sockets share one address and the kernel spreads queries over them.
func reusePort() net.ListenConfig {
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
}
