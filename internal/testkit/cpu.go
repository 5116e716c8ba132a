package testkit

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the CPU time the process has used, user and system. A
// benchmark that serves and loads on loopback divides its growth by b.N
// for a cpu-ns/op far less disturbed than the wall clock by other work on
// a shared machine (client and server together: the client's share is
// the same for two servers, so their difference is the servers').
func ProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
