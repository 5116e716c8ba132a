//go:build unix

package h1

import "syscall"

// errTooManyFiles is an Accept error worth waiting out.
var errTooManyFiles = syscall.EMFILE
