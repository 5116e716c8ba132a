//go:build !unix

package h1

import "errors"

var errTooManyFiles = errors.New("h1: never returned")
